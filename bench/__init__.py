"""The benchmark suite: the README's performance targets, measured on the real code and lab.

What this package is for: ``python -m bench`` (``make bench``) runs every benchmark
and prints one JSON document; each benchmark measures one target (README.md,
"Performance and known limits") against a
baseline measured in the same run, on the same machine, at the same time (see
``bench/__main__.py``). ``bench/cdp_send.py`` is a separate script (root, network
namespaces) that the suite calls when it can.

It must never be imported by runtime code (eos_vmtracer/) nor run as part of
``make test``, and must leave no process, socket or temporary directory behind.
"""
