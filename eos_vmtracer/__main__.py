"""Entry point for ``python -m eos_vmtracer``: the same as the ``vmtracer`` command."""

from eos_vmtracer.cli import main

if __name__ == "__main__":
    main()
