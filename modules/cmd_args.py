"""A1111's `modules.cmd_args`: `sdwebui.interfaces.cli.flags`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.cli.flags')
