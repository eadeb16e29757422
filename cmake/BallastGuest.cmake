# Guest programs are static musl binaries: no glib, no dynamic loader in the
# tiny guest image, ~100 KiB each. CMake drives one C compiler per project, so
# they are built with musl-gcc by a custom command instead of add_executable.
#
#   ballast_guest_program(NAME ballast-agent SOURCES a.c b.c [INCLUDES dir...])
#
# The result lands in build/bin/NAME; the guest image script copies it in.
find_program(MUSL_GCC musl-gcc)

add_custom_target(guest-programs ALL)

function(ballast_guest_program)
  cmake_parse_arguments(G "" "NAME" "SOURCES;INCLUDES" ${ARGN})
  if(NOT BALLAST_GUEST)
    return()
  endif()
  if(NOT MUSL_GCC)
    message(FATAL_ERROR "musl-gcc not found: run scripts/setup (package musl-tools), "
                        "or configure with -DBALLAST_GUEST=OFF")
  endif()
  set(out ${CMAKE_BINARY_DIR}/bin/${G_NAME})
  set(srcs)
  foreach(s ${G_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  set(incs)
  foreach(i ${G_INCLUDES})
    get_filename_component(abs ${i} ABSOLUTE)
    list(APPEND incs -I${abs})
  endforeach()
  add_custom_command(OUTPUT ${out}
    COMMAND ${MUSL_GCC} -static -std=c11 -Os -D_GNU_SOURCE -DBALLAST_VERSION="${PROJECT_VERSION}"
            -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
            -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
            -Wl,--gc-sections -s ${incs} -o ${out} ${srcs}
    DEPENDS ${srcs}
    IMPLICIT_DEPENDS C ${srcs}
    COMMENT "musl-gcc -static ${G_NAME}"
    VERBATIM)
  add_custom_target(${G_NAME} DEPENDS ${out})
  add_dependencies(guest-programs ${G_NAME})
endfunction()
