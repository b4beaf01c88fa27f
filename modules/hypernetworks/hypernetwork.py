"""A1111's `modules.hypernetworks.hypernetwork`: hypernetworks are listed, not applied
(`sdwebui.services.legacy.hypernetworks`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.legacy.hypernetworks')
