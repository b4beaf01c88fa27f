"""A1111's `modules.processing`: `sdwebui.engine.processing.txt2img`, `sdwebui.engine.processing.img2img`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.processing.txt2img', 'sdwebui.engine.processing.img2img')
