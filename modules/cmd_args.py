"""A1111's `modules.cmd_args`: `sdwebui.interfaces.cli.flags`. `parser` is the launch's parser (the one
extensions' preload.py add their flags to); the path names A1111 imports into this module
(`data_path`, `models_path` ...) follow the running app's flags, as in `modules.paths`."""
from modules._facade import expose
from modules.paths import A1111_PATH_NAMES
from sdwebui.interfaces.cli import flags

expose(__name__, 'sdwebui.interfaces.cli.flags', computed={"parser": flags.get_parser, **A1111_PATH_NAMES})
