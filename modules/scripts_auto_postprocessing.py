"""A1111's `modules.scripts_auto_postprocessing`: postprocessing scripts that run after
generation are not offered here."""
from modules._facade import expose

expose(__name__, extra=[
       ('ScriptPostprocessingForMainUI', 'sdwebui.services.legacy.stubs'),
       ('create_auto_preprocessing_script_data', 'sdwebui.services.legacy.stubs')])
