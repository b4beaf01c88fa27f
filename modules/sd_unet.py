"""A1111's `modules.sd_unet`: the alternative-UNet options extensions offer (`sdwebui.services.legacy.unet`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.legacy.unet')
