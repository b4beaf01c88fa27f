"""A1111's `modules.paths_internal` names, for extensions that import them from there: the same as
`modules.paths`, plus the folders only A1111's paths_internal names. `config_states_dir` is
`<data>/config_states` (A1111: `<webui>/config_states`), where Backup/Restore keeps its states."""
import os
from pathlib import Path

from modules._facade import expose
from modules.paths import A1111_PATH_NAMES
from modules.shared import app_paths
from sdwebui.services.extensions import config_states as _config_states

expose(__name__, 'sdwebui.services.paths', computed={
    **A1111_PATH_NAMES,
    "config_states_dir": lambda: str(_config_states.folder_for(app_paths().data)),
    "default_output_dir": lambda: str(app_paths().data / "outputs"),
    "modules_path": lambda: os.path.dirname(os.path.realpath(__file__)),
    "cwd": os.getcwd,
    "commandline_args": lambda: os.environ.get("COMMANDLINE_ARGS", ""),
    "normalized_filepath": lambda: (lambda filepath: str(Path(filepath).absolute())),
})
