# SPDX-License-Identifier: MIT
# Runs one fuzz target over a fresh copy of its seed corpus, so that the checked-in corpus is
# never modified:  cmake -DFUZZER=<exe> -DCORPUS=<dir> -DWORK=<dir> -DARGS=<;-list> -P this file
foreach(var FUZZER CORPUS WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
execute_process(COMMAND ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); reproducers in ${WORK}/artifacts")
endif()
