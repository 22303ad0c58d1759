# The process-wide thread state shared by every SIMD level's kernel module
# (see _threadstate.pyx).  The kernel modules cimport these functions.

cdef int configured_num_threads() noexcept nogil
cdef int default_num_threads() noexcept nogil
cdef int bounded_num_threads(int n) noexcept nogil
