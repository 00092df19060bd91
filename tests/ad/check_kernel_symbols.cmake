# Fails when an object compiled with AVX-512 enabled defines a weak (link-time shared) symbol:
# the linker could keep that copy for every caller and run AVX-512 code on an AVX2 machine
# (docs/design.md, "Kernels per instruction set"). Usage: cmake -DNM=nm -DOBJECTS="a.o;b.o" -P this
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} --defined-only -C ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REGEX MATCHALL "[^\n]* [WVu] [^\n]*" weak "${symbols}")
  if(weak)
    list(JOIN weak "\n" listed)
    message(FATAL_ERROR "${object} defines weak symbols:\n${listed}")
  endif()
  string(REGEX MATCHALL "[^\n]* T [^\n]*" exported "${symbols}")
  list(LENGTH exported count)
  message(STATUS "${object}: ${count} exported functions, no weak symbols")
endforeach()
