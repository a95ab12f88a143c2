// SPDX-License-Identifier: MIT
// The replacements of the global operator new and delete that
// support/counting_new.hpp declares the counter of: one definition per test
// program.
#include "support/counting_new.hpp"

#if CANARYGATE_TEST_COUNTING_NEW
void* operator new(std::size_t size) { return counting_new::allocate(size, 0); }
void* operator new[](std::size_t size) { return counting_new::allocate(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) {
    return counting_new::allocate(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
    return counting_new::allocate(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counting_new::allocate_nothrow(size, 0);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counting_new::allocate_nothrow(size, 0);
}
void operator delete(void* p) noexcept { counting_new::release(p); }
void operator delete[](void* p) noexcept { counting_new::release(p); }
void operator delete(void* p, std::size_t) noexcept { counting_new::release(p); }
void operator delete[](void* p, std::size_t) noexcept { counting_new::release(p); }
void operator delete(void* p, std::align_val_t) noexcept { counting_new::release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counting_new::release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counting_new::release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    counting_new::release(p);
}
#endif
