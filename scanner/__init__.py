"""az-bcdr-scan: predict which Azure VMs will fail their next backup, restore or failover."""
__version__ = "0.1.0"
