// SPDX-License-Identifier: MIT
// file_watch (integration/file_watch.hpp), in both modes (inotify and
// polling): the constructor delivers the initial contents; an atomic
// rename-over, an in-place truncate and write, a delete and re-create, a
// write in two halves (closed, or kept open by a long-lived writer) and a
// symbolic link swap are delivered, the final contents always; a missing
// file or directory is an error delivery, then delivered when it appears; a
// file over max_bytes is an error naming the limit; unchanged contents
// (touch, a byte-identical rewrite) are not delivered again, changed bytes
// are even with the same size and mtime; the destructor returns promptly
// with a 10 s interval; stop() is idempotent and callable from the callback;
// an exception from the callback is counted.
//
// Every wait is for a condition (a delivery under the collector's mutex, or
// a count in stats()), with a deadline that only a failing test reaches.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canarygate/integration/file_watch.hpp"

namespace file_watch_test {

using namespace canarygate;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

/// How long a test waits for what should happen within milliseconds: only a
/// failing test waits this long.
constexpr auto deadline = 5s;

/// A fresh directory under the system's temporary directory, removed with
/// everything in it.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<unsigned> counter{0};
        // relaxed: only the value's uniqueness matters.
        const unsigned n = counter.fetch_add(1, std::memory_order_relaxed);
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() / ("canarygate_file_watch_" + std::to_string(::getpid()) +
                                             "_" + std::to_string(n) + "_" + std::to_string(stamp));
        REQUIRE(fs::create_directory(path_));
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] fs::path operator/(std::string_view name) const { return path_ / name; }
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

/// Writes `bytes` to an open descriptor, all of them.
void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ::ssize_t n = ::write(fd, bytes.data(), bytes.size());
        REQUIRE(n > 0);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// `> path`: truncates (or creates) the file in place, writes, closes.
void write_in_place(const fs::path& path, std::string_view bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    write_all(fd, bytes);
    REQUIRE(::close(fd) == 0);
}

/// Overwrites the file from its start without truncating it (same size
/// bytes: the file is never seen half-written or shorter).
void overwrite_in_place(const fs::path& path, std::string_view bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    write_all(fd, bytes);
    REQUIRE(::close(fd) == 0);
}

/// `mv tmp path`: writes a temporary file next to it and renames it over.
void write_by_rename(const fs::path& path, std::string_view bytes) {
    fs::path tmp = path;
    tmp += ".tmp";
    write_in_place(tmp, bytes);
    fs::rename(tmp, path);
}

[[nodiscard]] std::uint64_t inode_of(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<std::uint64_t>(st.st_ino);
}

/// Sets the file's mtime (ns since the epoch).
void set_mtime(const fs::path& path, std::int64_t mtime_ns) {
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;  // atime
    times[1].tv_sec = static_cast<std::time_t>(mtime_ns / 1'000'000'000);
    times[1].tv_nsec = static_cast<long>(mtime_ns % 1'000'000'000);
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

/// Waits until the file system's clock has moved past the file's ctime, so
/// that the next change of the file gives it a new ctime (the clock behind
/// file times ticks every few milliseconds).
void wait_for_a_new_ctime(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    const std::int64_t ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
    const auto give_up = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        struct timespec now {};
#if defined(CLOCK_REALTIME_COARSE)
        ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
#else
        ::clock_gettime(CLOCK_REALTIME, &now);
#endif
        if (now.tv_sec * 1'000'000'000LL + now.tv_nsec > ctime_ns) return;
        if (std::chrono::steady_clock::now() > give_up) FAIL("the file system clock did not move");
        std::this_thread::yield();
    }
}

/// Keeps every delivery; waits for them.
class collector {
public:
    [[nodiscard]] file_watch::callback_type callback() {
        return [this](const file_contents& file) {
            const std::lock_guard lock(mutex_);
            all_.push_back(file);
            changed_.notify_all();
        };
    }
    /// Waits until `done(deliveries)`; false at the deadline.
    template <class Predicate>
    bool wait(Predicate done) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, deadline, [&] { return done(all_); });
    }
    /// Waits until the latest delivery holds `bytes`.
    bool wait_for_bytes(std::string_view bytes) {
        return wait([&](const std::vector<file_contents>& all) {
            return !all.empty() && all.back().ok() && all.back().bytes == bytes;
        });
    }
    /// Waits until the latest delivery is an error with `error_number`.
    bool wait_for_error(int error_number) {
        return wait([&](const std::vector<file_contents>& all) {
            return !all.empty() && !all.back().ok() && all.back().error_number == error_number;
        });
    }
    [[nodiscard]] std::vector<file_contents> all() {
        const std::lock_guard lock(mutex_);
        return all_;
    }
    [[nodiscard]] std::size_t size() {
        const std::lock_guard lock(mutex_);
        return all_.size();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<file_contents> all_;
};

/// Waits until `done(watch.stats())`; false at the deadline. stats() has no
/// notification: this checks it every millisecond.
template <class Predicate>
bool wait_for_stats(const file_watch& watch, Predicate done) {
    const auto give_up = std::chrono::steady_clock::now() + deadline;
    while (!done(watch.stats())) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// Short intervals: the tests wait for changes, never for an interval.
[[nodiscard]] file_watch_options options_for(file_watch_mode mode) {
    file_watch_options o;
    o.poll_interval = 20ms;
    o.use_inotify = mode == file_watch_mode::inotify;
    return o;
}

/// The modes this system has: inotify on Linux only.
[[nodiscard]] file_watch_mode any_mode() {
#if defined(__linux__)
    return GENERATE(file_watch_mode::inotify, file_watch_mode::polling);
#else
    return file_watch_mode::polling;
#endif
}

/// Deliveries are numbered 1, 2, 3, ... without gaps.
void check_sequence(const std::vector<file_contents>& all) {
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].sequence == i + 1);
}

TEST_CASE("file_watch: the constructor delivers the initial contents on its own thread",
          "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "{\"v\":1}");
    collector seen;
    std::thread::id caller;
    const auto this_thread = std::this_thread::get_id();
    file_watch watch(
        path,
        [&](const file_contents& file) {
            if (file.sequence == 1) caller = std::this_thread::get_id();
            seen.callback()(file);
        },
        options_for(mode));
    CHECK(watch.mode() == mode);
    CHECK(caller == this_thread);
    const auto all = seen.all();
    REQUIRE(all.size() == 1);
    CHECK(all[0].ok());
    CHECK(all[0].bytes == "{\"v\":1}");
    CHECK(all[0].error_number == 0);
    CHECK(all[0].sequence == 1);
    CHECK(all[0].identity.inode == inode_of(path));
    CHECK(all[0].identity.size == 7);
    CHECK(all[0].identity.mtime_ns > 0);
    const file_watch_stats s = watch.stats();
    CHECK(s.deliveries == 1);
    CHECK(s.reads >= 1);
    CHECK(s.read_errors == 0);
    CHECK(fs::path(watch.path()).is_absolute());
}

TEST_CASE("file_watch: an atomic rename-over is delivered", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_by_rename(path, "version 1");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    for (const std::string_view v : {"version 2, longer", "v3", "version 4 ........"}) {
        write_by_rename(path, v);
        REQUIRE(seen.wait_for_bytes(v));
        CHECK(seen.all().back().identity.inode == inode_of(path));
    }
    const auto all = seen.all();
    check_sequence(all);
    for (const auto& file : all) CHECK(file.ok());  // never seen missing
    CHECK(watch.stats().events >= 3);
}

TEST_CASE("file_watch: an in-place truncate and write is delivered", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "first");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    const std::uint64_t inode = inode_of(path);
    for (const std::string_view v : {"second, longer", "3rd", "fourth, the last one"}) {
        write_in_place(path, v);
        REQUIRE(seen.wait_for_bytes(v));
    }
    CHECK(seen.all().back().identity.inode == inode);  // the same file, rewritten
    check_sequence(seen.all());
}

TEST_CASE("file_watch: a deleted file is an error, then delivered when re-created",
          "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "before");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    REQUIRE(fs::remove(path));
    REQUIRE(seen.wait_for_error(ENOENT));
    const file_contents gone = seen.all().back();
    CHECK(gone.bytes.empty());
    CHECK_THAT(gone.error, Contains(path.string()) && Contains("No such file"));
    CHECK(watch.stats().read_errors >= 1);
    write_in_place(path, "after, re-created");
    REQUIRE(seen.wait_for_bytes("after, re-created"));
    CHECK(seen.all().back().identity.inode == inode_of(path));
    check_sequence(seen.all());
}

TEST_CASE("file_watch: a write in two halves delivers the whole final contents", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "old");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));

    // Both halves before the writer closes: one inotify batch, or one tick.
    const std::string whole = std::string(3000, 'a') + std::string(3000, 'b');
    {
        const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        REQUIRE(fd >= 0);
        write_all(fd, std::string_view(whole).substr(0, 3000));
        write_all(fd, std::string_view(whole).substr(3000));
        REQUIRE(::close(fd) == 0);
    }
    REQUIRE(seen.wait_for_bytes(whole));

    // A long-lived writer that never closes the file (no IN_CLOSE_WRITE):
    // the first half may be delivered, the whole must be while it is open.
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    REQUIRE(fd >= 0);
    write_all(fd, "first half;");
    REQUIRE(seen.wait_for_bytes("first half;"));
    write_all(fd, "second half");
    const bool whole_seen = seen.wait_for_bytes("first half;second half");
    REQUIRE(::close(fd) == 0);
    REQUIRE(whole_seen);
    check_sequence(seen.all());
}

TEST_CASE("file_watch: a missing file is an error delivery, then delivered when it appears",
          "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    CHECK(watch.mode() == mode);
    {
        const auto all = seen.all();
        REQUIRE(all.size() == 1);
        CHECK_FALSE(all[0].ok());
        CHECK(all[0].error_number == ENOENT);
        CHECK_THAT(all[0].error, Contains(path.string()) && Contains("No such file"));
        CHECK(all[0].sequence == 1);
        CHECK(watch.stats().read_errors == 1);
    }
    write_by_rename(path, "here now");
    REQUIRE(seen.wait_for_bytes("here now"));
    const auto all = seen.all();
    REQUIRE(all.size() == 2);  // the missing file's error was not repeated
    CHECK(all[1].sequence == 2);
}

TEST_CASE("file_watch: a missing directory falls back to polling until it appears",
          "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path sub = dir / "not-yet";
    const fs::path path = sub / "policy.json";
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    CHECK(watch.mode() == file_watch_mode::polling);  // no directory to watch
    REQUIRE(seen.wait_for_error(ENOENT));
    REQUIRE(fs::create_directory(sub));
    write_by_rename(path, "arrived");
    REQUIRE(seen.wait_for_bytes("arrived"));
}

TEST_CASE("file_watch: a watched directory removed falls back to polling", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path sub = dir / "config";
    const fs::path path = sub / "policy.json";
    REQUIRE(fs::create_directory(sub));
    write_in_place(path, "one");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    REQUIRE(watch.mode() == mode);
    fs::remove_all(sub);
    REQUIRE(seen.wait_for_error(ENOENT));
    REQUIRE(wait_for_stats(
        watch, [&](const file_watch_stats&) { return watch.mode() == file_watch_mode::polling; }));
    REQUIRE(fs::create_directory(sub));
    write_by_rename(path, "two");
    REQUIRE(seen.wait_for_bytes("two"));
}

TEST_CASE("file_watch: a file over max_bytes is an error naming the limit", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, std::string(65, 'x'));
    collector seen;
    file_watch_options options = options_for(mode);
    options.max_bytes = 64;
    file_watch watch(path, seen.callback(), options);
    {
        const auto all = seen.all();
        REQUIRE(all.size() == 1);
        CHECK_FALSE(all[0].ok());
        CHECK(all[0].error_number == EFBIG);
        CHECK(all[0].bytes.empty());
        CHECK_THAT(all[0].error,
                   Contains(path.string()) && Contains("64 bytes") && Contains("max_bytes"));
        CHECK(all[0].identity.size == 65);
    }
    write_by_rename(path, std::string(64, 'y'));  // at the limit: read
    REQUIRE(seen.wait_for_bytes(std::string(64, 'y')));
    write_by_rename(path, std::string(100'000, 'z'));
    REQUIRE(seen.wait_for_error(EFBIG));
    CHECK(seen.all().back().bytes.empty());
    CHECK(watch.stats().read_errors >= 2);
}

TEST_CASE("file_watch: a directory at the path is an error delivery", "[file_watch]") {
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    REQUIRE(fs::create_directory(path));
    collector seen;
    file_watch watch(path, seen.callback(), options_for(file_watch_mode::polling));
    const auto all = seen.all();
    REQUIRE(all.size() == 1);
    CHECK(all[0].error_number == EINVAL);
    CHECK_THAT(all[0].error, Contains("not a regular file"));
}

TEST_CASE("file_watch: an unreadable file is an error delivery", "[file_watch]") {
    if (::geteuid() == 0) {
        SUCCEED("running as root: permissions do not stop a read");
        return;
    }
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "secret");
    fs::permissions(path, fs::perms::none);
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    REQUIRE(seen.wait_for_error(EACCES));
    CHECK_THAT(seen.all().back().error, Contains(path.string()));
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    REQUIRE(seen.wait_for_bytes("secret"));
}

TEST_CASE("file_watch: a symbolic link swapped next to the file is delivered", "[file_watch]") {
    // The layout of a Kubernetes ConfigMap volume: policy.json ->
    // ..data/policy.json, and an update renames a new ..data link over the
    // old one (policy.json itself never changes).
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    REQUIRE(fs::create_directory(dir / "v1"));
    REQUIRE(fs::create_directory(dir / "v2"));
    write_in_place(dir / "v1" / "policy.json", "from v1");
    write_in_place(dir / "v2" / "policy.json", "from v2");
    fs::create_directory_symlink("v1", dir / "..data");
    fs::create_symlink("..data/policy.json", dir / "policy.json");
    collector seen;
    file_watch watch(dir / "policy.json", seen.callback(), options_for(mode));
    REQUIRE(seen.wait_for_bytes("from v1"));
    fs::create_directory_symlink("v2", dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
    REQUIRE(seen.wait_for_bytes("from v2"));
}

TEST_CASE("file_watch: unchanged contents are not delivered again", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "same bytes");
    collector seen;
    file_watch watch(path, seen.callback(), options_for(mode));
    REQUIRE(seen.size() == 1);

    // Each step waits until the watcher has read the file again and found
    // it unchanged (a failing dedupe delivers instead, and the wait fails).
    // The count is taken before the change: the watcher may be quicker than
    // the test. Polling re-reads once at its first tick (the settle
    // re-check), which counts as unchanged: wait for it first, or that read
    // would satisfy the wait below before the change is even made.
    if (mode == file_watch_mode::polling)
        REQUIRE(wait_for_stats(watch, [](const file_watch_stats& s) { return s.reads >= 2; }));
    const std::uint64_t unchanged_before = watch.stats().unchanged;
    const auto read_unchanged = [&] {
        return wait_for_stats(
            watch, [&](const file_watch_stats& s) { return s.unchanged > unchanged_before; });
    };
    const auto mtime = [&] { return seen.all().back().identity.mtime_ns; };

    SECTION("touch: a new mtime, the same bytes") {
        set_mtime(path, mtime() + 5'000'000'000);
        REQUIRE(read_unchanged());
    }
    SECTION("a byte-identical rewrite in place") {
        wait_for_a_new_ctime(path);
        overwrite_in_place(path, "same bytes");
        REQUIRE(read_unchanged());
    }
    SECTION("a byte-identical rewrite by rename") {
        write_by_rename(path, "same bytes");
        REQUIRE(read_unchanged());
    }
    CHECK(seen.size() == 1);
    CHECK(watch.stats().deliveries == 1);

    SECTION("changed bytes with the same size and mtime are delivered") {
        const std::int64_t old_mtime = mtime();
        wait_for_a_new_ctime(path);  // polling sees the change in the ctime
        overwrite_in_place(path, "SAME BYTES");
        set_mtime(path, old_mtime);
        REQUIRE(seen.wait_for_bytes("SAME BYTES"));
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);  // the premise: same size, same mtime
        CHECK(st.st_size == 10);
        CHECK(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec == old_mtime);
        CHECK(seen.all().back().sequence == 2);
    }
}

TEST_CASE("file_watch: the destructor returns promptly, whatever the interval", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "one");
    collector seen;
    file_watch_options options = options_for(mode);
    options.poll_interval = 10s;
    auto watch = std::make_unique<file_watch>(path, seen.callback(), options);
    if (mode == file_watch_mode::inotify) {
        // A delivery leaves a settle re-check due in 10 s.
        write_in_place(path, "two, longer");
        REQUIRE(seen.wait_for_bytes("two, longer"));
    }  // polling: the thread sleeps until the first tick, 10 s away
    const auto start = std::chrono::steady_clock::now();
    watch.reset();
    const auto took = std::chrono::steady_clock::now() - start;
    CAPTURE(std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    CHECK(took < 1s);
}

TEST_CASE("file_watch: stop() is idempotent and may be called from the callback", "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "one");
    collector seen;
    std::atomic<file_watch*> self{nullptr};
    auto record = seen.callback();
    file_watch watch(
        path,
        [&](const file_contents& file) {
            // acquire: pairs with the release store below (the pointer is
            // published to the watcher thread).
            if (file_watch* w = self.load(std::memory_order_acquire)) w->stop();
            record(file);
        },
        options_for(mode));
    self.store(&watch, std::memory_order_release);
    write_by_rename(path, "two, longer");
    REQUIRE(seen.wait_for_bytes("two, longer"));
    const auto start = std::chrono::steady_clock::now();
    watch.stop();  // joins the thread the callback asked to end
    watch.stop();
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(watch.stats().deliveries == 2);
}

TEST_CASE("file_watch: an exception from the callback is counted and watching goes on",
          "[file_watch]") {
    const file_watch_mode mode = any_mode();
    CAPTURE(name(mode));
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    write_in_place(path, "fine");
    collector seen;
    auto record = seen.callback();
    file_watch watch(
        path,
        [&](const file_contents& file) {
            if (file.bytes == "throw") throw std::runtime_error("a parser's complaint");
            record(file);
        },
        options_for(mode));
    write_by_rename(path, "throw");
    REQUIRE(
        wait_for_stats(watch, [](const file_watch_stats& s) { return s.callback_errors == 1; }));
    write_by_rename(path, "fine again");
    REQUIRE(seen.wait_for_bytes("fine again"));
    // Counted when the callback has returned: wait for it.
    CHECK(wait_for_stats(watch, [](const file_watch_stats& s) { return s.deliveries == 3; }));
    CHECK(watch.stats().callback_errors == 1);
}

TEST_CASE("file_watch: bad arguments are refused", "[file_watch]") {
    const temp_dir dir;
    const fs::path path = dir / "policy.json";
    const auto ignore = [](const file_contents&) {};
    CHECK_THROWS_AS(file_watch("", ignore), std::invalid_argument);
    CHECK_THROWS_AS(file_watch(dir.path() / "", ignore), std::invalid_argument);
    CHECK_THROWS_AS(file_watch(path, file_watch::callback_type{}), std::invalid_argument);
    file_watch_options zero_interval;
    zero_interval.poll_interval = 0ms;
    CHECK_THROWS_WITH(file_watch(path, ignore, zero_interval), Contains("poll_interval"));
    file_watch_options zero_bytes;
    zero_bytes.max_bytes = 0;
    CHECK_THROWS_WITH(file_watch(path, ignore, zero_bytes), Contains("max_bytes"));
}

}  // namespace file_watch_test
