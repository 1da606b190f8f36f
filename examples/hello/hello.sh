#!/bin/sh
# Prints the greeting shipped in the image and some facts about where it runs.
cat /usr/share/hello/greeting.txt
echo "($(cat /usr/share/hello/lines.txt) lines, running as $(id -un) on $(uname -m))"
