#!/usr/bin/env python3
"""Writes the W1 configuration into DIR: insightd.yaml plus a plugins directory copied from plugins-config/
with every plugin and rule off except risk-alerts' velocity rule (a debit total over 49,999.99 within 24 h).
Usage: w1-config.py PLUGINS_CONFIG_DIR DIR"""
import os, re, shutil, sys

src, out = sys.argv[1], sys.argv[2]
plugins = os.path.join(out, "plugins")
shutil.rmtree(plugins, ignore_errors=True)
shutil.copytree(src, plugins)
for name in os.listdir(plugins):
    path = os.path.join(plugins, name)
    with open(path) as f:
        lines = f.read().split("\n")
    if not any(line.startswith("enabled:") for line in lines):
        continue  # a shared file (calendar, products)
    section, edited = None, []
    for line in lines:
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section = top.group(1)
        if name == "risk-alerts.yaml":
            if re.match(r"^\s+enabled:", line) and section != "velocity":
                line = re.sub(r"enabled:\s*\w+", "enabled: false", line)
            elif section == "velocity" and re.match(r"^\s+max_debit_total:", line):
                line = "  max_debit_total: 49999.99"
            elif section == "velocity" and re.match(r"^\s+max_debit_count:", line):
                line = "  max_debit_count: 199"  # the most allowed: only the total triggers
            elif section == "velocity" and re.match(r"^\s+enabled:", line):
                line = "  enabled: true"
        elif line.startswith("enabled:"):
            line = "enabled: false"
        edited.append(line)
    with open(path, "w") as f:
        f.write("\n".join(edited))
with open(os.path.join(out, "insightd.yaml"), "w") as f:
    f.write("plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:18999\n"
            "timezone: Asia/Shanghai\nlocale: zh-CN\nlogging: {level: warning}\n")
