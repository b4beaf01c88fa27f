"""A1111's `modules.sd_samplers_lcm`: LCM runs on diffusers' LCM scheduler here."""
from modules._facade import expose

expose(__name__, extra=[('LCMCompVisDenoiser', 'sdwebui.services.legacy.samplers')])
