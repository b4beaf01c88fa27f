"""A1111's `modules.sd_hijack_unet`: its LDM UNet patches do not apply to diffusers' UNet."""
from modules._facade import expose

expose(__name__, extra=[('weighted_forward', 'sdwebui.services.legacy.hijack')])
