"""eos-vmtracer: automatic edge VLAN provisioning on Arista EOS for ports facing ESXi hosts."""

__version__ = "0.1.0"
