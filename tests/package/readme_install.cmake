# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
# README.md's install commands, run verbatim (but for the prefix) on a copy of the repository,
# as a user of a fresh clone would run them: the ```sh block of README.md that contains
# `cmake --install`. Then the prefix must hold the package, and the build must not have looked
# for what only the tests and examples need.
#
#   cmake -DSOURCE_DIR=<repo> -DWORK=<scratch dir> -P readme_install.cmake
cmake_minimum_required(VERSION 3.21)
foreach(var SOURCE_DIR WORK)
  if(NOT ${var})
    message(FATAL_ERROR "readme_install: pass -D${var}=...")
  endif()
endforeach()

# The block. Lines travel as a CMake list, so ';' (none is expected in shell commands of this
# kind) is refused rather than split on.
file(READ "${SOURCE_DIR}/README.md" readme)
string(REGEX MATCHALL "\n```sh\n[^`]*cmake --install[^`]*```" blocks "${readme}")
list(LENGTH blocks count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "README.md: expected one ```sh block with `cmake --install`, found ${count}")
endif()
string(REGEX REPLACE "^\n```sh\n(.*)```$" "\\1" commands "${blocks}")
if(NOT commands MATCHES "/your/prefix")
  message(FATAL_ERROR "README.md's install block has no /your/prefix to replace:\n${commands}")
endif()
string(REPLACE "/your/prefix" "${WORK}/prefix" commands "${commands}")

# A copy of the repository: its tracked files (what a clone has), or, outside a git checkout,
# the tree without .git and build directories.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/src")
execute_process(COMMAND git -C "${SOURCE_DIR}" ls-files RESULT_VARIABLE git_result
                OUTPUT_VARIABLE tracked ERROR_QUIET)
if(git_result EQUAL 0 AND NOT tracked STREQUAL "")
  string(STRIP "${tracked}" tracked)
  string(REPLACE "\n" ";" tracked "${tracked}")
  foreach(file IN LISTS tracked)
    # Files only (not a submodule's directory), and not one deleted in the work tree.
    if(NOT file STREQUAL "" AND EXISTS "${SOURCE_DIR}/${file}" AND
       NOT IS_DIRECTORY "${SOURCE_DIR}/${file}")
      get_filename_component(dir "${file}" DIRECTORY)
      file(COPY "${SOURCE_DIR}/${file}" DESTINATION "${WORK}/src/${dir}")
    endif()
  endforeach()
else()
  file(GLOB top RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*" "${SOURCE_DIR}/.*")
  foreach(entry IN LISTS top)
    if(NOT entry MATCHES "^(\\.git|build.*)$")
      file(COPY "${SOURCE_DIR}/${entry}" DESTINATION "${WORK}/src")
    endif()
  endforeach()
endif()

message(STATUS "running in a copy of the repository:\n${commands}")
execute_process(COMMAND sh -e -x -c "${commands}" WORKING_DIRECTORY "${WORK}/src"
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "README.md's install commands failed (${result})")
endif()

foreach(file share/cmake/shmpipe/shmpipeConfig.cmake share/cmake/shmpipe/shmpipeSchemas.cmake
             include/shmpipe/shmpipe.hpp include/shmpipe/schemas/envelope_shmpipe.h
             include/shmpipe/schemas/envelope_generated.h)
  if(NOT EXISTS "${WORK}/prefix/${file}")
    message(FATAL_ERROR "README.md's install commands did not install ${file}")
  endif()
endforeach()
# Only the library's own dependencies: GoogleTest and Google Benchmark were not even looked for.
file(STRINGS "${WORK}/src/build/CMakeCache.txt" looked REGEX "^(GTest|benchmark)_DIR:")
if(looked)
  message(FATAL_ERROR "the install build looked for test dependencies: ${looked}")
endif()
file(REMOVE_RECURSE "${WORK}")
message(STATUS "README.md's install commands work on a copy of the repository")
