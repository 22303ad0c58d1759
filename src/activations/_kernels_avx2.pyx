# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
# The kernels of _kernels.pyx, compiled with the avx2 flags that setup.py gives this
# module; _dispatch.py imports it on CPUs that run avx2 code.
include "_kernels.pyx"
