"""A1111's `modules.sd_hijack_ip2p` (instruct-pix2pix LDM class): not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[('should_hijack_ip2p', 'sdwebui.services.legacy.stubs')])
