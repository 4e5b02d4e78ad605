"""The EOS SDK integration: what ``vmtracer run`` becomes when ``eossdk`` is there.

- :mod:`.options`: the daemon's name and its ``option`` lines -> configuration;
- :mod:`.controller`: starts, restarts and stops the agent for the SDK, and the
  one-slot mailbox that carries the agent's status to the SDK's thread;
- :mod:`.sdk`: the glue to the ``eossdk`` module itself and :func:`.sdk.run`.

The status document -> daemon status rendering lives with the other renderers
(:func:`eos_vmtracer.render.daemon_status`). Nothing here may be imported by the
planner or an adapter; only :mod:`eos_vmtracer.cli` calls in.
"""
