"""Dense attention kinds, one folder each (registered in hyflexpim.config.methods): ``float`` and ``digital``."""
