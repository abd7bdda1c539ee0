# Cross-compiling the addon for linux-arm64 with Debian's cross toolchain
# (apt-get install g++-aarch64-linux-gnu); used by native/prebuild.mjs:
#   cmake -S . -B build/prebuild/linux-arm64 -DCMAKE_TOOLCHAIN_FILE=native/toolchains/aarch64-linux-gnu.cmake ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MOBILENET_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${MOBILENET_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MOBILENET_CROSS_TRIPLE}-g++)

# Debian's multiarch cross sysroot: target libraries and headers only from there.
set(CMAKE_FIND_ROOT_PATH /usr/${MOBILENET_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Lets CMake (and try_run) run target programs through qemu-user.
find_program(MOBILENET_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(MOBILENET_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MOBILENET_QEMU_AARCH64} -L /usr/${MOBILENET_CROSS_TRIPLE})
endif()
