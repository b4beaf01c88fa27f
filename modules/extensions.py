"""A1111's `modules.extensions`: the extension list (`sdwebui.services.extensions.discovery`), the
`Extension` folder, metadata.ini, git, and running install.py / preload.py."""
from modules._facade import expose
from modules.shared import app_paths

expose(__name__, 'sdwebui.services.extensions.discovery', 'sdwebui.services.extensions.extension',
       'sdwebui.services.extensions.metadata', 'sdwebui.services.extensions.git',
       'sdwebui.services.extensions.installers', computed={
           "extensions_dir": lambda: str(app_paths().extensions),
           "extensions_builtin_dir": lambda: str(app_paths().extensions_builtin)})
