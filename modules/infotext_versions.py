"""A1111's `modules.infotext_versions` (`sdwebui.services.legacy.misc`)."""
from modules._facade import expose

expose(__name__, extra=[('v160', 'sdwebui.services.legacy.misc'), ('v170_tsnr', 'sdwebui.services.legacy.misc'), ('v180', 'sdwebui.services.legacy.misc'), ('v180_hr_styles', 'sdwebui.services.legacy.misc'), ('parse_version', 'sdwebui.services.legacy.misc'), ('backcompat', 'sdwebui.services.legacy.misc')])
