"""A1111's `modules.paths_internal` names, for extensions that import them from there: the same as
`modules.paths`."""
from modules._facade import expose
from modules.paths import A1111_PATH_NAMES

expose(__name__, 'sdwebui.services.paths', computed=A1111_PATH_NAMES)
