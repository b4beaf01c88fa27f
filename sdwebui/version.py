"""Version strings. The infotext `Version` reads as A1111 1.10.1 to A1111's own parser (so
pasting our images into A1111 applies 1.10 semantics) and names this project after it."""
__version__ = "0.1.0"
A1111_COMPAT = "v1.10.1"
INFOTEXT_VERSION = f"{A1111_COMPAT}-diffusers-{__version__}"
