"""Noise models, one folder each (registered in hyflexpim.config.methods): ``__init__.py`` (the registration,
strings only), ``accuracy.py`` (the config class and the ``hyflexpim.device.noise.NoiseModel``). No cost half: the
chip's costs do not depend on the noise model (each registration says ``cost=None``)."""
