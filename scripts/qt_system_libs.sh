# Sourced by scripts/setup.sh and scripts/test.sh (not run on its own): which system packages
# napari's Qt viewer still needs on this machine, and the one command that installs them.
#
# "Missing" is the dynamic loader's own answer, not dpkg's: `ldd` on the xcb platform plugins of
# both bindings (PyQt5 and PyQt6, with their GLX/EGL integration plugins) lists every shared
# library they and the Qt libraries under them link, resolved exactly as when Qt loads them,
# and marks each one the loader cannot find "not found". dpkg only says whether a package is
# recorded as installed: it cannot tell that a library is unreachable (a broken or partial
# install), it misses a library that came from elsewhere, it needs the Debian name of every
# package on every release (libglib2.0-0 is libglib2.0-0t64 on Ubuntu 24.04), and it knows
# nothing about a wheel that starts to link a new library. The programs (Xvfb for the tests,
# xauth for xvfb-run, xdpyinfo for vispy's DPI) are looked up on PATH. The sonames are mapped to
# Debian/Ubuntu package names below; apt pulls in what those depend on (Mesa's drivers, which
# libGL opens at run time and ldd cannot see, come in as dependencies of libgl1 and libegl1).

QT_VENV_SITE=${QT_VENV_SITE:-.venv/lib/python3*/site-packages}

# The xcb platform plugins of the installed bindings and their OpenGL integrations.
qt_plugin_files() {
    local f
    # shellcheck disable=SC2086  # the glob in QT_VENV_SITE is meant to expand
    for f in $QT_VENV_SITE/PyQt5/Qt5/plugins/platforms/libqxcb.so \
             $QT_VENV_SITE/PyQt5/Qt5/plugins/xcbglintegrations/*.so \
             $QT_VENV_SITE/PyQt6/Qt6/plugins/platforms/libqxcb.so \
             $QT_VENV_SITE/PyQt6/Qt6/plugins/xcbglintegrations/*.so; do
        [ -f "$f" ] && echo "$f"
    done
    return 0
}

# The sonames the loader cannot find for those plugins, one per line, sorted.
qt_not_found() {
    local f
    qt_plugin_files | while read -r f; do ldd "$f" 2>/dev/null; done \
        | awk '$2 == "=>" && $3 == "not" {print $1}' | sort -u
}

# The Debian/Ubuntu package that ships SONAME (empty when this table does not know it).
qt_package_for() {
    case "$1" in
        libxcb-icccm.so.4) echo libxcb-icccm4 ;;
        libxcb-keysyms.so.1) echo libxcb-keysyms1 ;;
        libxcb-xinerama.so.0) echo libxcb-xinerama0 ;;
        libxcb-cursor.so.0) echo libxcb-cursor0 ;;
        libxcb-image.so.0) echo libxcb-image0 ;;
        libxcb-randr.so.0) echo libxcb-randr0 ;;
        libxcb-render-util.so.0) echo libxcb-render-util0 ;;
        libxcb-render.so.0) echo libxcb-render0 ;;
        libxcb-xfixes.so.0) echo libxcb-xfixes0 ;;
        libxcb-shape.so.0) echo libxcb-shape0 ;;
        libxcb-xkb.so.1) echo libxcb-xkb1 ;;
        libxcb-shm.so.0) echo libxcb-shm0 ;;
        libxcb-sync.so.1) echo libxcb-sync1 ;;
        libxcb-util.so.1) echo libxcb-util1 ;;
        libxcb-glx.so.0) echo libxcb-glx0 ;;
        libxcb.so.1) echo libxcb1 ;;
        libxkbcommon-x11.so.0) echo libxkbcommon-x11-0 ;;
        libxkbcommon.so.0) echo libxkbcommon0 ;;
        libX11-xcb.so.1) echo libx11-xcb1 ;;
        libX11.so.6) echo libx11-6 ;;
        libXext.so.6) echo libxext6 ;;
        libXau.so.6) echo libxau6 ;;
        libXdmcp.so.6) echo libxdmcp6 ;;
        libGL.so.1) echo libgl1 ;;
        libEGL.so.1) echo libegl1 ;;
        libGLX.so.0) echo libglx0 ;;
        libGLdispatch.so.0) echo libglvnd0 ;;
        libglib-2.0.so.0 | libgthread-2.0.so.0) echo libglib2.0-0 ;;
        libfontconfig.so.1) echo libfontconfig1 ;;
        libfreetype.so.6) echo libfreetype6 ;;
        libpng16.so.16) echo libpng16-16 ;;
        libdbus-1.so.3) echo libdbus-1-3 ;;
        libexpat.so.1) echo libexpat1 ;;
        libpcre2-8.so.0) echo libpcre2-8-0 ;;
        libbrotlidec.so.1 | libbrotlicommon.so.1) echo libbrotli1 ;;
        libz.so.1) echo zlib1g ;;
        libzstd.so.1) echo libzstd1 ;;
    esac
}

# Fill QT_MISSING_SONAMES (what ldd did not find), QT_MISSING_PACKAGES (the packages to install)
# and QT_UNKNOWN_SONAMES (missing sonames this table cannot name a package for).
qt_missing() {
    QT_MISSING_SONAMES=()
    QT_MISSING_PACKAGES=()
    QT_UNKNOWN_SONAMES=()
    local so pkg
    while read -r so; do
        [ -n "$so" ] || continue
        QT_MISSING_SONAMES+=("$so")
        pkg=$(qt_package_for "$so")
        if [ -z "$pkg" ]; then
            QT_UNKNOWN_SONAMES+=("$so")
        elif [[ " ${QT_MISSING_PACKAGES[*]} " != *" $pkg "* ]]; then
            QT_MISSING_PACKAGES+=("$pkg")
        fi
    done < <(qt_not_found)
    command -v Xvfb >/dev/null 2>&1 || QT_MISSING_PACKAGES+=(xvfb)
    command -v xauth >/dev/null 2>&1 || QT_MISSING_PACKAGES+=(xauth)
    # vispy (napari's canvas) asks xdpyinfo, else xrandr, for the screen's DPI on every start
    # and logs "WARNING: could not determine DPI" when it finds neither.
    if ! command -v xdpyinfo >/dev/null 2>&1 && ! command -v xrandr >/dev/null 2>&1; then
        QT_MISSING_PACKAGES+=(x11-utils)
    fi
    return 0
}

# The one command a user runs to install PACKAGES... (with sudo unless already root).
qt_install_command() {
    local sudo="sudo "
    [ "$(id -u)" -eq 0 ] && sudo=""
    echo "${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends $*"
}
