#!/bin/sh
# The tool as help2man sees it (cmake/tools.cmake): run through a symlink named
# vramlab-NAME, it runs $VRAMLAB_TOOL (bin/NAME) and turns its first line "usage: NAME ..."
# into "Usage: vramlab-NAME ...", which help2man makes the page's SYNOPSIS.
"$VRAMLAB_TOOL" "$@" | sed "1s/^usage: [^ ]*/Usage: ${0##*/}/"
