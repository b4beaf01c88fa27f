#!/bin/bash
#########################################################
# Uncomment and change the variables below to your need:#
#########################################################

# Commandline arguments for webui.py, for example: export COMMANDLINE_ARGS="--api --listen --port 7860"
#export COMMANDLINE_ARGS=""

# python3 executable
#python_cmd="python3"

# python3 venv without trailing slash (defaults to ${install_dir}/venv; "-" = use the current environment)
#venv_dir="venv"

# install command for torch (installed first, and only when torch is missing)
#export TORCH_COMMAND="pip install torch==2.13.0"

###########################################
