# Filled from live_matrix.sh (see CMakeLists.txt).
