"""A1111's `modules.scripts`: the Script base class, the tabs' script controls and runners
(`sdwebui.services.extensions.script_class`, `.script_controls`, `.scripts`)."""
import importlib

from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.script_class', 'sdwebui.services.extensions.script_controls',
       'sdwebui.services.extensions.scripts',
       extra=[("list_scripts", "sdwebui.services.legacy.loading"),
              ("scripts_postproc", "sdwebui.services.extensions.postprocessing_runner")],
       computed={"script_callbacks": lambda: importlib.import_module("modules.script_callbacks")})
