"""A1111's `modules.masking`: crop regions and fill (`sdwebui.services.legacy.misc`, over the engine's
img2img preparation)."""
from modules._facade import expose

expose(__name__, extra=[('get_crop_region', 'sdwebui.services.legacy.misc'), ('get_crop_region_v2', 'sdwebui.services.legacy.misc'), ('expand_crop_region', 'sdwebui.services.legacy.misc'), ('fill', 'sdwebui.services.legacy.misc')])
