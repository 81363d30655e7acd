# Sanitizer builds: HEADLIGHT_SANITIZE = OFF | address | thread.
#   address  AddressSanitizer + UndefinedBehaviorSanitizer (ON is read as address)
#   thread   ThreadSanitizer
# Our own code is instrumented (-O1, frame pointers, -g1: line tables for the reports; with libtorch's
# headers -g cost 60 % more compile time and gigabytes of objects); Qt and libtorch are not.
#
# Debian's libtorch_cpu.so lists every libopencv_*.so.406 as NEEDED although it imports no symbol
# from them; libopencv_highgui pulls in Qt 5, whose symbols then collide with Qt 6's in our process.
# A Release build survives because the colliding functions happen to be inlined; a sanitizer build
# aborts before main. So a sanitizer build links a private copy of libtorch_cpu without those NEEDED
# entries (made here with patchelf, in the build tree) and finds it through an RPATH that is inherited
# by libtorch.so too (--disable-new-dtags). Release builds and the .deb keep Debian's library.

string(TOLOWER "${HEADLIGHT_SANITIZE}" _hl_sanitize)
if(_hl_sanitize STREQUAL "on" OR _hl_sanitize STREQUAL "true" OR _hl_sanitize STREQUAL "1")
  set(_hl_sanitize address)
endif()
if(_hl_sanitize STREQUAL "" OR _hl_sanitize STREQUAL "off" OR _hl_sanitize STREQUAL "false"
   OR _hl_sanitize STREQUAL "0")
  set(HEADLIGHT_SANITIZE_MODE "")
  return()
endif()
set(HEADLIGHT_SANITIZE_MODE "${_hl_sanitize}")

if(_hl_sanitize STREQUAL "address")
  set(_hl_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(_hl_sanitize STREQUAL "thread")
  set(_hl_flags -fsanitize=thread)
else()
  message(FATAL_ERROR "HEADLIGHT_SANITIZE='${HEADLIGHT_SANITIZE}': use OFF, address or thread")
endif()
if(HEADLIGHT_FUZZ)
  message(FATAL_ERROR "HEADLIGHT_SANITIZE and HEADLIGHT_FUZZ are separate builds: pick one")
endif()
message(STATUS "Sanitizer build: ${_hl_sanitize} (${_hl_flags})")
target_compile_options(headlight_options INTERFACE ${_hl_flags} -fno-omit-frame-pointer -O1 -g1)
target_link_options(headlight_options INTERFACE ${_hl_flags})

# The private libtorch_cpu without the OpenCV (-> Qt 5) dependencies.
find_program(HEADLIGHT_PATCHELF patchelf)
if(NOT HEADLIGHT_PATCHELF)
  message(FATAL_ERROR "a sanitizer build needs patchelf (scripts/setup.sh --sanitize installs it)")
endif()
get_target_property(_hl_torch_cpu torch_cpu LOCATION)
get_filename_component(_hl_torch_cpu_real "${_hl_torch_cpu}" REALPATH)
get_filename_component(_hl_torch_cpu_name "${_hl_torch_cpu_real}" NAME)
get_target_property(_hl_torch_cpu_soname torch_cpu IMPORTED_SONAME_RELWITHDEBINFO)
if(NOT _hl_torch_cpu_soname)
  set(_hl_torch_cpu_soname "${_hl_torch_cpu_name}")
endif()
set(_hl_libdir "${CMAKE_BINARY_DIR}/sanitizer-libs")
set(_hl_copy "${_hl_libdir}/${_hl_torch_cpu_name}")
if(NOT EXISTS "${_hl_copy}" OR "${_hl_torch_cpu_real}" IS_NEWER_THAN "${_hl_copy}")
  file(MAKE_DIRECTORY "${_hl_libdir}")
  file(COPY "${_hl_torch_cpu_real}" DESTINATION "${_hl_libdir}")
  execute_process(COMMAND "${HEADLIGHT_PATCHELF}" --print-needed "${_hl_copy}"
                  OUTPUT_VARIABLE _hl_needed RESULT_VARIABLE _hl_rc)
  if(NOT _hl_rc EQUAL 0)
    message(FATAL_ERROR "patchelf could not read ${_hl_copy}")
  endif()
  string(REPLACE "\n" ";" _hl_needed "${_hl_needed}")
  foreach(_hl_lib IN LISTS _hl_needed)
    if(_hl_lib MATCHES "^libopencv_")
      execute_process(COMMAND "${HEADLIGHT_PATCHELF}" --remove-needed "${_hl_lib}" "${_hl_copy}"
                      RESULT_VARIABLE _hl_rc)
      if(NOT _hl_rc EQUAL 0)
        message(FATAL_ERROR "patchelf could not drop ${_hl_lib} from ${_hl_copy}")
      endif()
    endif()
  endforeach()
endif()
if(NOT _hl_torch_cpu_soname STREQUAL _hl_torch_cpu_name)
  file(CREATE_LINK "${_hl_torch_cpu_name}" "${_hl_libdir}/${_hl_torch_cpu_soname}" SYMBOLIC)
endif()
get_target_property(_hl_configs torch_cpu IMPORTED_CONFIGURATIONS)
foreach(_hl_config IN LISTS _hl_configs)
  set_target_properties(torch_cpu PROPERTIES IMPORTED_LOCATION_${_hl_config} "${_hl_copy}")
endforeach()
set_target_properties(torch_cpu PROPERTIES IMPORTED_LOCATION "${_hl_copy}")
target_link_options(headlight_options INTERFACE "LINKER:--disable-new-dtags" "LINKER:-rpath,${_hl_libdir}")
