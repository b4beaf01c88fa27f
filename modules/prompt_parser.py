"""A1111's `modules.prompt_parser`: `sdwebui.engine.prompt.parser`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.prompt.parser')
