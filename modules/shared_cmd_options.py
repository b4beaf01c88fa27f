"""A1111's `modules.shared_cmd_options`: the parsed flags (`cmd_opts`, the same object as
`modules.shared.cmd_opts`) and the parser (`parser`, as `modules.cmd_args.parser`), plus the path
names A1111 imports into it (`data_path`, `models_path` ...)."""
from modules._facade import expose
from modules.paths import A1111_PATH_NAMES
from modules.shared import flags_or_defaults
from sdwebui.interfaces.cli import flags

expose(__name__, computed={"cmd_opts": flags_or_defaults, "parser": flags.get_parser, **A1111_PATH_NAMES})
