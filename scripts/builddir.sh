# scripts/builddir.sh: sourced by setup.sh and run-tests.sh. builddir_setup DIR ARGS... configures
# DIR with `meson setup DIR ARGS... -Dwerror=true` when it is not configured yet, and turns werror
# on in a DIR configured before werror stopped being the default (meson keeps an existing
# directory's options). Warnings are errors in development and CI only; the project default stays
# werror=false so a packager's newer compiler cannot break a release build.
# Set CC before calling to pick the compiler of a new directory.
builddir_setup() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" -Dwerror=true >&2
		return
	fi
	local werror
	werror=$(/usr/bin/python3 -c 'import json, sys
opts = json.load(open(sys.argv[1]))
print(next((str(o["value"]).lower() for o in opts if o["name"] == "werror"), "false"))' \
		"$dir/meson-info/intro-buildoptions.json" 2>/dev/null || echo false)
	if [ "$werror" != true ]; then
		echo "setup: $dir: turning on -Dwerror=true" >&2
		meson configure "$dir" -Dwerror=true >&2
	fi
}
