#!/usr/bin/env bash
# Start the web UI: create the venv if missing, install torch (TORCH_COMMAND) if missing,
# install the project if it changed, then run launch.py with COMMANDLINE_ARGS + "$@".
# Variables (set them in webui-user.sh): COMMANDLINE_ARGS, python_cmd, venv_dir, TORCH_COMMAND.
set -euo pipefail

install_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$install_dir"

if [[ -f webui-user.sh ]]; then
    # shellcheck source=webui-user.sh
    source ./webui-user.sh
fi

python_cmd="${python_cmd:-python3}"
venv_dir="${venv_dir:-venv}"
export TORCH_COMMAND="${TORCH_COMMAND:-pip install torch==2.13.0}"
export COMMANDLINE_ARGS="${COMMANDLINE_ARGS:-}"
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ "$(id -u)" -eq 0 ]]; then
    echo "Note: running as root."
fi

if [[ "$venv_dir" != "-" ]]; then
    if [[ ! -x "$venv_dir/bin/python" ]]; then
        echo "Creating python venv in $venv_dir"
        "$python_cmd" -m venv "$venv_dir"
    fi
    # shellcheck disable=SC1091
    source "$venv_dir/bin/activate"
    python_cmd="python"
fi

# find_spec checks presence without the seconds an import of torch/diffusers/gradio takes
has_modules() { "$python_cmd" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))" "$@"; }

if ! has_modules torch; then
    echo "Installing torch: $TORCH_COMMAND"
    # TORCH_COMMAND is a command line, as in A1111 ("pip install torch==..."); run pip from this python
    read -r -a torch_cmd <<<"$TORCH_COMMAND"
    if [[ "${torch_cmd[0]}" == "pip" ]]; then
        "$python_cmd" -m pip "${torch_cmd[@]:1}"
    else
        "${torch_cmd[@]}"
    fi
fi

# Install the project with its extras only when pyproject.toml changed. SD_WEBUI_EXTRAS (default
# "compat": the packages A1111 ships that extensions import; test.sh adds "test"; "" installs none).
extras="${SD_WEBUI_EXTRAS-compat}"
stamp_dir="$("$python_cmd" -c 'import sys; print(sys.prefix)')"
stamp="$stamp_dir/.sd-webui-installed${extras:+-${extras//,/-}}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! has_modules diffusers gradio transformers fastapi spandrel; then
    echo "Installing requirements"
    "$python_cmd" -m pip install -q -e ".${extras:+[$extras]}"
    # The `upscalers` extra (spandrel) goes in without its dependencies: it declares torchvision, which
    # none of its upscaler architectures use (docs/dependencies.md); the pin comes from pyproject.toml.
    mapfile -t no_deps < <("$python_cmd" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["upscalers"]))')
    "$python_cmd" -m pip install -q --no-deps "${no_deps[@]}"
    echo "$want" >"$stamp"
fi

if [[ "${SD_WEBUI_RUN_TESTS:-0}" == "1" ]]; then
    exec "$python_cmd" -m pytest "$@"
fi
# /sdapi/v1/server-restart leaves tmp/restart behind and exits; start again while it is there
export SD_WEBUI_RESTART=1
data_dir="$install_dir"
args=($COMMANDLINE_ARGS "$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[$i]}" == "--data-dir" ]] && data_dir="${args[$((i + 1))]:-$data_dir}"
done
while true; do
    rm -f "$data_dir/tmp/restart"
    "$python_cmd" -u launch.py "$@" || exit $?
    [[ -f "$data_dir/tmp/restart" ]] || break
    echo "Restarting..."
done
