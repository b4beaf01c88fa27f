"""A1111's `modules.extra_networks_hypernet`: hypernetworks are listed, not applied, here
(`sdwebui.services.legacy.hypernetworks`)."""
from modules._facade import expose

expose(__name__, extra=[('ExtraNetworkHypernet', 'sdwebui.services.legacy.stubs')])
