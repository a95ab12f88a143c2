// SPDX-License-Identifier: MIT
/// \file
/// Compact, versioned, canonical binary serialisation of snapshots.
///
/// `encode` turns a snapshot into bytes, `decode` turns bytes back into the
/// identical snapshot (`decode(encode(s)) == s`) or throws `decode_error`
/// naming what was wrong and the byte offset. Decoding validates everything
/// and never allocates more than the input and `decode_limits` allow, so it
/// is safe on bytes from the network. The encoding is canonical: every
/// snapshot has exactly one, `encode` produces it (same snapshot, same bytes,
/// on every platform), and `decode` accepts nothing else, so
/// `encode(decode(b)) == b` for every `b` that decodes.
///
/// Example:
/// \code
///   std::vector<std::uint8_t> bytes = canarygate::encode(replica_snapshot);
///   // ... send, store ...
///   canarygate::snapshot fleet;
///   fleet.merge(canarygate::decode(bytes));   // throws canarygate::decode_error if corrupt
/// \endcode
///
/// ## Format, version 2
///
/// ```
/// varint     unsigned LEB128: 7 bits per byte, least significant group first,
///            high bit set on every byte but the last; minimal (no redundant
///            final 0x00 group); u64 fields take at most 10 bytes, wide
///            counters (wide_uint, 128 bits) at most 19.
/// zz(x)      zig-zag: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
/// string     varint byte length, then the bytes (opaque: no encoding check).
///            Names 1..256 bytes; a model version 0..256 bytes.
/// i64le      8 bytes, two's complement, least significant byte first.
/// u32le      4 bytes, unsigned, least significant byte first.
///
/// snapshot   := body | crc u32le                            version 2
///             | body                                        version 1 (read, never written)
/// body       := "CGSN" (43 47 53 4E) | version (1 byte) = 2 or 1 | flags (1 byte) = 0
///               | window_start_ns i64le | window_end_ns i64le (>= start)
///               | sources varint
///               | counters                                   recorder-wide
///               | arm_count varint | arm{arm_count}          sorted by (arm, model_version), unique
/// counters   := count varint | (name string, value varint){count}   names strictly increasing
/// arm        := arm string (non-empty) | model_version string | counters
///               | count varint | (name string, histogram){count}     names strictly increasing
/// histogram  := scale varint | zz(min_exponent) varint | zz(max_exponent) varint
///               | zero varint | underflow varint | overflow varint | rejected varint
///               | span_count varint | (offset varint, length varint){span_count}
///               | delta{sum of lengths}
/// ```
///
/// - crc is the CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial
///   value and final XOR 0xFFFFFFFF; "123456789" gives 0xE3069283) of every
///   byte of the body, magic included. It is the last 4 bytes of the input
///   and is checked before anything but the magic and version is parsed:
///   every error of 1 or 2 flipped bits and every burst of up to 32 flipped
///   bits is rejected, where version 1 decoded half of all single-bit flips
///   to another valid snapshot. Every error of 3 bits (in inputs below
///   256 MiB) is rejected too once `decode_limits::read_version_1` is off:
///   while version 1 is read, two flipped bits can turn the version byte 2
///   into 1, which carries no CRC, and a third may then yield a snapshot.
///   It guards against
///   corruption, not tampering (anyone can recompute it): authenticate the
///   transport if that matters.
/// - The layout fields must make a valid `histogram_layout`.
/// - Spans list exactly the maximal runs of non-empty buckets, in order, Prometheus
///   native style. The first span's offset counts buckets from the layout's
///   first bucket (absolute index `first_index()`); each later offset counts
///   the empty buckets since the previous span's end (>= 1). Lengths are >= 1
///   and every span lies within the layout's `bucket_count()` buckets.
/// - delta = zz(count[k] - count[k-1]) over the spanned buckets in order, with
///   count[-1] = 0; a zig-zag over 65 bits (any u64 step fits, <= 10 bytes).
///   Every spanned count is in [1, 2^64 - 1], and zero + underflow + overflow +
///   all buckets (the histogram's `count()`) is at most 2^64 - 1.
/// - Strings compare bytewise as unsigned char (the order of std::string).
/// - No byte follows the last arm but the crc (version 2) or none (version 1).
///
/// Versions: `encode` writes version 2 (`snapshot_format_version`); `decode`
/// reads versions 1 (`oldest_snapshot_format_version`; unless
/// `decode_limits::read_version_1` is off) and 2. Version 1 is version 2
/// without the crc: the bodies are identical but for the version byte. A
/// future version changes the version byte; flags are reserved (0) in both.
/// Decoders reject versions and flags they do not know.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/window/detail/codec_varint.hpp"
#include "canarygate/window/detail/crc32c.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Corrupt, truncated, hostile or unsupported serialised input.
///
/// The message names what was wrong and where: the byte offset for binary
/// input and JSON syntax errors, the JSON Pointer (RFC 6901) for a JSON
/// document that parses but is not a valid snapshot.
class decode_error : public std::runtime_error {
public:
    /// No byte offset (a JSON document error).
    static constexpr std::size_t no_offset = static_cast<std::size_t>(-1);

    /// A problem at byte `offset` of the input (no_offset: position unknown).
    decode_error(const std::string& reason, std::size_t offset)
        : std::runtime_error(
              "canarygate::decode: " + reason +
              (offset == no_offset ? std::string() : " (at byte " + std::to_string(offset) + ")")),
          offset_(offset) {}
    /// A problem in a parsed JSON document, at `json_pointer` ("" = the root).
    decode_error(const std::string& reason, std::string json_pointer)
        : std::runtime_error("canarygate::from_json: " + reason + " (at \"" + json_pointer + "\"" +
                             (json_pointer.empty() ? ", the document root)" : ")")),
          offset_(no_offset),
          json_pointer_(std::make_shared<const std::string>(std::move(json_pointer))) {}

    /// Byte offset of the problem, or no_offset (JSON documents, and JSON
    /// numbers beyond the range of double).
    [[nodiscard]] std::size_t offset() const noexcept { return offset_; }
    /// JSON Pointer of the problem; empty for binary input (and the JSON root).
    [[nodiscard]] const std::string& json_pointer() const noexcept {
        static const std::string none;
        return json_pointer_ ? *json_pointer_ : none;
    }

private:
    std::size_t offset_;
    // Shared, so copying the exception cannot throw (like std::runtime_error's message).
    std::shared_ptr<const std::string> json_pointer_;
};

/// Resource limits of a decoder, beyond what the input's length implies.
///
/// Everything a decoder allocates is bounded by the input's length except the
/// histograms' counter arrays: a few bytes declare a layout of up to 523,520
/// buckets (8 bytes each). The default, 2^21 buckets (16 MiB of counters), is
/// 80 times a 10-arm snapshot of the default metrics (2,560 buckets per arm)
/// and admits 4 histograms of the widest layout.
struct decode_limits {
    /// Most buckets (sum of `bucket_count()`) over all histograms of one snapshot.
    std::size_t max_total_buckets = std::size_t{1} << 21;
    /// Most series (arms + counters + histograms) in one snapshot. Each costs
    /// a node and a name however small the input that declares it.
    std::size_t max_series = std::size_t{1} << 16;
    /// Deepest nesting of JSON arrays and objects (a snapshot document needs 8).
    std::size_t max_json_depth = 16;
    /// Whether `decode` reads format version 1, which has no checksum. On by
    /// default, so snapshots of older writers keep decoding; turn it off once
    /// every writer writes version 2, and a damaged version byte can no
    /// longer bypass the CRC.
    bool read_version_1 = true;
};

/// Format version written by `encode`: 2, the format above with its CRC-32C
/// trailer. `decode` reads every version from oldest_snapshot_format_version
/// to this one.
inline constexpr std::uint8_t snapshot_format_version = 2;
/// Oldest format version `decode` reads: 1, version 2 without the CRC-32C
/// trailer (written by canarygate before the checksum was added).
inline constexpr std::uint8_t oldest_snapshot_format_version = 1;
/// Longest arm, model version and series name, in bytes (binary and JSON).
inline constexpr std::size_t max_name_bytes = 256;

/// Appends the canonical encoding of `s` to `out` (reuse one buffer to avoid
/// allocating per snapshot).
///
/// Throws std::invalid_argument, leaving `out` as it was, when `s` holds
/// something the format cannot carry: an empty arm or series name, a name
/// longer than max_name_bytes, a histogram whose count() exceeds 2^64 - 1.
/// O(size of s + buckets of its histograms).
inline void encode(const snapshot& s, std::vector<std::uint8_t>& out);

/// The canonical encoding of `s` (see encode(const snapshot&, std::vector&)).
[[nodiscard]] inline std::vector<std::uint8_t> encode(const snapshot& s);

/// The snapshot encoded in `bytes`, which must be exactly one canonical
/// encoding of format version 2 or 1 (see the format above).
///
/// Throws decode_error, naming the problem and its byte offset, on anything
/// else: bad magic, unknown version or flags, a CRC-32C that does not match
/// (version 2; checked right after the magic and version, so a truncation
/// or a flipped bit anywhere else ends there), truncation, trailing bytes, lengths beyond the input, bad
/// names, invalid layouts, spans outside the range or out of order, counts
/// beyond 2^64 - 1, duplicate or unsorted names and arms, a window that ends
/// before it starts, or more histogram buckets or series than `limits`
/// allows. Allocates at most O(bytes.size()) plus 8 bytes per bucket of the
/// declared layouts (bounded by `limits`), and nothing for a series beyond
/// `limits.max_series`. O(bytes.size() + buckets).
[[nodiscard]] inline snapshot decode(std::span<const std::uint8_t> bytes,
                                     const decode_limits& limits = {});

// --- Implementation -----------------------------------------------------------

namespace detail {

inline constexpr std::uint8_t snapshot_magic[4] = {0x43, 0x47, 0x53, 0x4e};  // "CGSN"
/// Bytes of the CRC-32C trailer of format version 2.
inline constexpr std::size_t snapshot_crc_bytes = 4;

/// Appends two lowercase hex digits.
inline void append_hex(std::string& out, unsigned char byte) {
    static constexpr char digits[] = "0123456789abcdef";
    out += digits[byte >> 4];
    out += digits[byte & 15];
}

/// Appends "0x" and eight lowercase hex digits.
inline void append_hex32(std::string& out, std::uint32_t value) {
    out += "0x";
    for (int shift = 24; shift >= 0; shift -= 8)
        append_hex(out, static_cast<unsigned char>(value >> shift));
}

/// 'name' with bytes outside printable ASCII as \xNN, for error messages.
[[nodiscard]] inline std::string printable_name(std::string_view name) {
    std::string result = "'";
    for (const char c : name) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f && c != '\\' && c != '\'') {
            result += c;
        } else {
            result += "\\x";
            append_hex(result, byte);
        }
    }
    result += '\'';
    return result;
}

static_assert(max_name_bytes == 256, "update the messages of name_problem");

/// Why a name cannot be serialised, or nullptr when it can.
[[nodiscard]] inline const char* name_problem(std::string_view name, bool may_be_empty) noexcept {
    if (name.empty() && !may_be_empty) return "is empty";
    if (name.size() > max_name_bytes) return "is longer than max_name_bytes (256)";
    return nullptr;
}

/// "histogram 'latency_ns' of arm 'candidate'@'v2'": names a series in messages.
[[nodiscard]] inline std::string describe_series(const char* kind, std::string_view name,
                                                 const arm_snapshot* arm) {
    std::string result = std::string(kind) + " " + printable_name(name);
    if (arm != nullptr) {
        result +=
            " of arm " + printable_name(arm->arm()) + "@" + printable_name(arm->model_version());
    }
    return result;
}

/// Adds b to a (modulo 2^64); false when the exact sum exceeds 2^64 - 1.
[[nodiscard]] constexpr bool add_u64(std::uint64_t& a, std::uint64_t b) noexcept {
    a += b;
    return a >= b;
}

/// Calls f(first, length) for every maximal run of non-zero counts, in order.
/// Histograms are sparse (a 5-minute latency window fills ~10 % of its 800
/// buckets), so empty stretches are skipped four counts at a time.
template <class F>
void for_each_nonzero_run(std::span<const std::uint64_t> counts, F&& f) {
    const std::size_t n = counts.size();
    std::size_t k = 0;
    while (k < n) {
        while (k + 4 <= n && (counts[k] | counts[k + 1] | counts[k + 2] | counts[k + 3]) == 0)
            k += 4;
        while (k < n && counts[k] == 0) ++k;
        if (k == n) break;
        const std::size_t first = k;
        while (k < n && counts[k] != 0) ++k;
        f(first, k - first);
    }
}

class snapshot_encoder {
public:
    explicit snapshot_encoder(std::vector<std::uint8_t>& out) noexcept
        : vector_(out), start_(out.size()), out_(out) {}

    /// Appends the encoding of `s`; the vector may be left longer than what
    /// was written if this throws (see truncate_on_unwind).
    void write(const snapshot& s) {
        out_.bytes(snapshot_magic, sizeof snapshot_magic);
        out_.byte(snapshot_format_version);
        out_.byte(0);  // flags
        out_.fixed64(s.window_start_ns());
        out_.fixed64(s.window_end_ns());
        out_.varint(s.sources());
        write_counters(s.counters(), nullptr);
        out_.varint(s.arms().size());
        for (const arm_snapshot& arm : s.arms()) {
            check_name("arm", arm.arm(), false, nullptr);
            check_name("model version", arm.model_version(), true, &arm);
            write_string(arm.arm());
            write_string(arm.model_version());
            write_counters(arm.counters(), &arm);
            out_.varint(arm.histograms().size());
            for (const auto& [name, histogram] : arm.histograms()) {
                check_name("histogram", name, false, &arm);
                write_string(name);
                write_histogram(histogram, name, arm);
            }
        }
        // The trailer: room reserved through the writer (no reallocation
        // after finish()), then filled in with the CRC of the body.
        static constexpr std::uint8_t placeholder[snapshot_crc_bytes] = {};
        out_.bytes(placeholder, snapshot_crc_bytes);
        out_.finish();
        const std::size_t body_end = vector_.size() - snapshot_crc_bytes;
        std::uint32_t crc = crc32c(std::span(vector_).subspan(start_, body_end - start_));
        for (std::size_t i = 0; i < snapshot_crc_bytes; ++i, crc >>= 8)
            vector_[body_end + i] = static_cast<std::uint8_t>(crc);
    }

private:
    static void check_name(const char* kind, std::string_view name, bool may_be_empty,
                           const arm_snapshot* arm) {
        if (const char* problem = name_problem(name, may_be_empty)) {
            detail::throw_invalid_argument(
                "canarygate::encode: " + describe_series(kind, name, arm) + " " + problem);
        }
    }

    void write_string(std::string_view s) {
        out_.varint(s.size());
        out_.bytes(s.data(), s.size());
    }

    void write_counters(const std::map<std::string, wide_uint, std::less<>>& counters,
                        const arm_snapshot* arm) {
        out_.varint(counters.size());
        for (const auto& [name, value] : counters) {
            check_name("counter", name, false, arm);
            write_string(name);
            out_.varint(value);
        }
    }

    void write_histogram(const exp_histogram& h, std::string_view name, const arm_snapshot& arm) {
        const histogram_layout& layout = h.layout();
        out_.varint(static_cast<std::uint64_t>(layout.scale()));
        out_.varint(zigzag(layout.min_exponent()));
        out_.varint(zigzag(layout.max_exponent()));
        out_.varint(h.zero_count());
        out_.varint(h.underflow_count());
        out_.varint(h.overflow_count());
        out_.varint(h.rejected_count());

        // One scan for the runs; the rest touches only non-empty buckets.
        const std::span<const std::uint64_t> buckets = h.buckets();
        runs_.clear();
        for_each_nonzero_run(buckets, [&](std::size_t first, std::size_t length) {
            runs_.emplace_back(first, length);
        });
        std::uint64_t total = h.zero_count();
        bool fits = add_u64(total, h.underflow_count()) && add_u64(total, h.overflow_count());
        for (const auto& [first, length] : runs_) {
            for (std::size_t k = first; k < first + length; ++k)
                fits = fits && add_u64(total, buckets[k]);
        }
        if (!fits) {
            detail::throw_invalid_argument(
                "canarygate::encode: " + describe_series("histogram", name, &arm) +
                " holds more than 2^64 - 1 values in total");
        }

        out_.varint(runs_.size());
        std::size_t previous_end = 0;
        for (const auto& [first, length] : runs_) {
            out_.varint(first - previous_end);
            out_.varint(length);
            previous_end = first + length;
        }
        std::uint64_t previous = 0;
        for (const auto& [first, length] : runs_) {
            for (std::size_t k = first; k < first + length; ++k) {
                out_.varint(zigzag_difference(previous, buckets[k]));
                previous = buckets[k];
            }
        }
    }

    std::vector<std::uint8_t>& vector_;
    std::size_t start_;  // where this snapshot's bytes begin in vector_
    byte_writer out_;
    std::vector<std::pair<std::size_t, std::size_t>> runs_;  // (first bucket, length), reused
};

class snapshot_decoder {
public:
    snapshot_decoder(std::span<const std::uint8_t> bytes, const decode_limits& limits) noexcept
        : begin_(bytes.data()),
          p_(bytes.data()),
          end_(bytes.data() + bytes.size()),
          limits_(limits) {}

    [[nodiscard]] snapshot read() {
        read_header();
        const std::uint8_t* const window_at = p_;
        const std::int64_t start = read_fixed("window_start_ns");
        const std::int64_t end = read_fixed("window_end_ns");
        if (end < start) {
            fail("window_end_ns = " + std::to_string(end) +
                     " is before window_start_ns = " + std::to_string(start),
                 window_at);
        }
        const std::uint64_t sources = read_u64("sources");
        snapshot result(start, end);
        result.set_sources(sources);
        read_counters(
            [&](std::string_view name, wide_uint value) { result.add_counter(name, value); });

        // An arm takes at least 5 bytes: two lengths, a 1-byte name, two counts.
        const std::uint8_t* const arm_count_at = p_;
        const std::uint64_t arm_count = read_count("arm count", 5);
        admit_series(arm_count, "arm count", arm_count_at);
        std::string_view previous_arm;
        std::string_view previous_version;
        for (std::uint64_t i = 0; i < arm_count; ++i) {
            const std::uint8_t* const arm_at = p_;
            arm_index_ = i;
            arm_ = {};
            model_version_ = {};
            arm_ = read_name("arm name", false);
            model_version_ = read_name("model version", true);
            if (i > 0) {
                const auto order =
                    std::pair(previous_arm, previous_version) <=> std::pair(arm_, model_version_);
                if (order == 0) fail("duplicate arm", arm_at);
                if (order > 0) {
                    fail("arms are not sorted by (arm, model_version): this one follows " +
                             printable_name(previous_arm) + "@" + printable_name(previous_version),
                         arm_at);
                }
            }
            previous_arm = arm_;
            previous_version = model_version_;
            arm_snapshot& arm = result.arm(arm_, model_version_);
            read_counters(
                [&](std::string_view name, wide_uint value) { arm.add_counter(name, value); });
            read_histograms(arm);
        }
        arm_index_ = no_arm;
        if (p_ != end_) {
            fail(std::to_string(end_ - p_) + " trailing byte(s) after the last arm", p_);
        }
        return result;
    }

private:
    static constexpr std::uint64_t no_arm = static_cast<std::uint64_t>(-1);

    [[nodiscard]] std::size_t remaining() const noexcept {
        return static_cast<std::size_t>(end_ - p_);
    }

    [[noreturn]] void fail(const std::string& reason, const std::uint8_t* at) const {
        std::string context;
        if (arm_index_ != no_arm) {
            context = "arm #" + std::to_string(arm_index_);
            if (!arm_.empty())
                context += " " + printable_name(arm_) + "@" + printable_name(model_version_);
            context += ": ";
        }
        if (!series_.empty()) context += series_kind_ + (" " + printable_name(series_)) + ": ";
        detail::raise(decode_error(context + reason, static_cast<std::size_t>(at - begin_)));
    }

    [[noreturn]] void fail_read(read_status status, const char* field, const std::uint8_t* at,
                                const char* limit) const {
        switch (status) {
            case read_status::truncated:
                fail(std::string("input truncated in ") + field, at);
            case read_status::too_large:
                fail(std::string(field) + " does not fit in " + limit, at);
            case read_status::not_minimal:
                fail(std::string(field) + " is a non-minimal varint", at);
            case read_status::ok:
                break;
        }
        fail(std::string("internal error reading ") + field, at);
    }

    void read_header() {
        const std::size_t available = std::min(remaining(), sizeof snapshot_magic);
        if (!std::equal(p_, p_ + available, snapshot_magic)) {
            std::string found;
            for (std::size_t i = 0; i < available; ++i) {
                append_hex(found, p_[i]);
                found += i + 1 < available ? " " : "";
            }
            fail("bad magic bytes " + found +
                     " (expected 43 47 53 4e, \"CGSN\"): not a canarygate snapshot",
                 p_);
        }
        if (available < sizeof snapshot_magic) fail("input truncated in the magic bytes", p_);
        p_ += sizeof snapshot_magic;
        if (p_ == end_) fail("input truncated in the format version", p_);
        static_assert(oldest_snapshot_format_version == 1 && snapshot_format_version == 2,
                      "update the messages of read_header");
        const std::uint8_t version = *p_;
        if (version < oldest_snapshot_format_version || version > snapshot_format_version) {
            fail("format version " + std::to_string(version) +
                     (version > snapshot_format_version ? " is newer than the versions"
                                                        : " is not one of the versions") +
                     " this decoder reads (1 and 2)",
                 p_);
        }
        if (version == 1 && !limits_.read_version_1) {
            fail("format version 1 (no checksum) is not read: decode_limits::read_version_1 is off",
                 p_);
        }
        ++p_;
        if (version >= 2) check_crc();
        if (p_ == end_) fail("input truncated in the flags", p_);
        if (*p_ != 0)
            fail("unknown flags " + std::to_string(*p_) + " (versions 1 and 2 define none)", p_);
        ++p_;
    }

    /// Checks the CRC-32C trailer of version 2 (the last 4 bytes) against
    /// every byte before it, then leaves it out of what the parser reads.
    /// Before anything after the version is parsed: corrupt input is
    /// reported as such, not as whatever defect the corruption happens to
    /// make in the parser's eyes.
    void check_crc() {
        // The trailer may not overlap the magic, version and flags.
        if (remaining() < 1 + snapshot_crc_bytes) {
            fail("input truncated: " + std::to_string(end_ - begin_) +
                     " bytes cannot hold a version 2 header and its 4-byte CRC-32C trailer",
                 p_);
        }
        const std::uint8_t* const trailer = end_ - snapshot_crc_bytes;
        std::uint32_t stored = 0;
        for (std::size_t i = snapshot_crc_bytes; i-- > 0;) stored = (stored << 8) | trailer[i];
        const std::uint32_t computed = crc32c(
            std::span<const std::uint8_t>(begin_, static_cast<std::size_t>(trailer - begin_)));
        if (stored != computed) {
            std::string message = "CRC-32C mismatch: stored ";
            append_hex32(message, stored);
            message += ", computed ";
            append_hex32(message, computed);
            message += " over the " + std::to_string(trailer - begin_) +
                       " bytes before the trailer (corrupt or truncated input)";
            fail(message, trailer);
        }
        end_ = trailer;
    }

    /// Admits `count` more series (arms, counters or histograms, declared by
    /// `field` at `at`) within decode_limits::max_series, before any of them
    /// is allocated.
    void admit_series(std::uint64_t count, const char* field, const std::uint8_t* at) {
        if (count > limits_.max_series - series_count_) {
            fail(std::string(field) + " " + std::to_string(count) + " with the snapshot's " +
                     std::to_string(series_count_) +
                     " earlier series exceeds decode_limits::max_series = " +
                     std::to_string(limits_.max_series),
                 at);
        }
        series_count_ += static_cast<std::size_t>(count);
    }

    std::int64_t read_fixed(const char* field) {
        std::int64_t value = 0;
        if (const read_status status = read_fixed64(p_, end_, value); status != read_status::ok) {
            fail_read(status, field, p_, "64 bits");
        }
        return value;
    }

    std::uint64_t read_u64(const char* field) {
        std::uint64_t value = 0;
        if (const read_status status = read_varint(p_, end_, value); status != read_status::ok) {
            fail_read(status, field, p_, "64 bits");
        }
        return value;
    }

    wide_uint read_wide(const char* field, int bits, const char* limit) {
        wide_uint value;
        if (const read_status status = read_varint(p_, end_, bits, value);
            status != read_status::ok) {
            fail_read(status, field, p_, limit);
        }
        return value;
    }

    int read_int(const char* field, bool is_signed) {
        const std::uint8_t* const at = p_;
        const std::uint64_t raw = read_u64(field);
        const std::int64_t value = is_signed ? unzigzag(raw) : static_cast<std::int64_t>(raw);
        if (!is_signed && raw > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
            fail(std::string(field) + " = " + std::to_string(raw) + " is out of range", at);
        }
        if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
            fail(std::string(field) + " = " + std::to_string(value) + " is out of range", at);
        }
        return static_cast<int>(value);
    }

    /// A count of items that each take at least `min_item_bytes` bytes:
    /// checked against the rest of the input before anything is allocated.
    std::uint64_t read_count(const char* field, std::size_t min_item_bytes) {
        const std::uint8_t* const at = p_;
        const std::uint64_t count = read_u64(field);
        if (count > remaining() / min_item_bytes) {
            fail(std::string(field) + " " + std::to_string(count) + " needs at least " +
                     std::to_string(min_item_bytes) + " bytes each, but only " +
                     std::to_string(remaining()) + " bytes follow",
                 at);
        }
        return count;
    }

    std::string_view read_name(const char* field, bool may_be_empty) {
        const std::uint8_t* const at = p_;
        const std::uint64_t length = read_u64(field);
        if (length > max_name_bytes) {
            fail(std::string(field) + " length " + std::to_string(length) +
                     " exceeds max_name_bytes (256)",
                 at);
        }
        if (length == 0 && !may_be_empty) fail(std::string(field) + " is empty", at);
        if (length > remaining()) {
            fail(std::string("input truncated in ") + field + ": " + std::to_string(length) +
                     " bytes declared, " + std::to_string(remaining()) + " left",
                 at);
        }
        const std::string_view name(reinterpret_cast<const char*>(p_),
                                    static_cast<std::size_t>(length));
        p_ += length;
        return name;
    }

    /// Reads a series name (`field`) that must sort strictly after `previous`
    /// (unless `first`), and makes it the series named in error messages.
    std::string_view read_series_name(const char* kind, const char* field,
                                      std::string_view previous, bool first) {
        series_ = {};
        const std::uint8_t* const at = p_;
        const std::string_view name = read_name(field, false);
        series_kind_ = kind;
        series_ = name;
        if (!first && name <= previous) {
            fail(name == previous
                     ? std::string("duplicate name")
                     : "names are not sorted: this one follows " + printable_name(previous),
                 at);
        }
        return name;
    }

    template <class Add>
    void read_counters(Add&& add) {
        // A counter takes at least 3 bytes: name length, a 1-byte name, a value.
        const std::uint8_t* const at = p_;
        const std::uint64_t count = read_count("counter count", 3);
        admit_series(count, "counter count", at);
        std::string_view previous;
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::string_view name =
                read_series_name("counter", "counter name", previous, i == 0);
            add(name, read_wide("value", 128, "128 bits"));
            previous = name;
        }
        series_ = {};
    }

    void read_histograms(arm_snapshot& arm) {
        // A histogram takes at least 10 bytes: name length, a 1-byte name,
        // three layout fields, four counts, a span count.
        const std::uint8_t* const at = p_;
        const std::uint64_t count = read_count("histogram count", 10);
        admit_series(count, "histogram count", at);
        std::string_view previous;
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::string_view name =
                read_series_name("histogram", "histogram name", previous, i == 0);
            arm.add_histogram(name, read_histogram());
            previous = name;
        }
        series_ = {};
    }

    histogram_layout read_layout() {
        const std::uint8_t* const at = p_;
        const int scale = read_int("scale", false);
        const int min_exponent = read_int("min_exponent", true);
        const int max_exponent = read_int("max_exponent", true);
        if (auto why = histogram_layout::problem(scale, min_exponent, max_exponent)) {
            fail("invalid layout: canarygate::histogram_layout: " + *why, at);
        }
        return histogram_layout(scale, min_exponent, max_exponent);
    }

    exp_histogram read_histogram() {
        const std::uint8_t* const layout_at = p_;
        const histogram_layout layout = read_layout();
        const std::size_t buckets = layout.bucket_count();
        if (buckets > limits_.max_total_buckets - total_buckets_) {
            fail("layout " + layout.describe() + " has " + std::to_string(buckets) +
                     " buckets; with the snapshot's earlier histograms (" +
                     std::to_string(total_buckets_) +
                     ") that exceeds decode_limits::max_total_buckets = " +
                     std::to_string(limits_.max_total_buckets),
                 layout_at);
        }
        total_buckets_ += buckets;

        const std::uint64_t zero = read_u64("zero count");
        const std::uint64_t underflow = read_u64("underflow count");
        const std::uint64_t overflow = read_u64("overflow count");
        const std::uint64_t rejected = read_u64("rejected count");

        // A span takes at least 3 bytes: offset, length, one delta.
        const std::uint64_t span_count = read_count("span count", 3);
        std::vector<std::pair<std::size_t, std::size_t>> spans;  // (first bucket, length)
        spans.reserve(static_cast<std::size_t>(span_count));     // <= remaining() / 3
        std::size_t end = 0;                                     // one past the previous span
        std::size_t spanned = 0;
        for (std::uint64_t i = 0; i < span_count; ++i) {
            const std::uint8_t* const at = p_;
            const std::uint64_t offset = read_u64("span offset");
            const std::uint64_t length = read_u64("span length");
            const auto which = [i] { return "span #" + std::to_string(i); };
            if (i > 0 && offset == 0) {
                fail(which() +
                         " touches the previous one (offset 0; spans are maximal runs, separated "
                         "by >= 1 empty bucket)",
                     at);
            }
            if (length == 0) fail(which() + " is empty (length 0)", at);
            // Compared one term at a time: offset and length are any u64.
            if (offset > buckets - end || length > buckets - end - offset) {
                fail(which() + " (offset " + std::to_string(offset) + ", length " +
                         std::to_string(length) + ") ends past the layout's " +
                         std::to_string(buckets) + " buckets (" + layout.describe() + ")",
                     at);
            }
            const auto first = end + static_cast<std::size_t>(offset);
            end = first + static_cast<std::size_t>(length);
            spanned += static_cast<std::size_t>(length);
            spans.emplace_back(first, static_cast<std::size_t>(length));
        }
        if (spanned > remaining()) {
            fail("spans hold " + std::to_string(spanned) + " buckets but only " +
                     std::to_string(remaining()) + " bytes follow for their counts",
                 p_);
        }

        exp_histogram h(layout);
        std::uint64_t total = zero;
        if (!add_u64(total, underflow) || !add_u64(total, overflow)) {
            fail("zero + underflow + overflow counts exceed 2^64 - 1", layout_at);
        }
        h.add_zero(zero);
        h.add_underflow(underflow);
        h.add_overflow(overflow);
        h.add_rejected(rejected);
        std::uint64_t previous = 0;
        for (const auto& [first, length] : spans) {
            for (std::size_t k = first; k < first + length; ++k) {
                const std::uint8_t* const at = p_;
                const wide_uint zz = read_wide("bucket count delta", 65, "65 bits");
                const std::uint64_t half = (zz.high << 63) | (zz.low >> 1);
                std::uint64_t count = previous;
                if ((zz.low & 1) == 0) {
                    if (!add_u64(count, half)) fail("bucket count exceeds 2^64 - 1", at);
                } else if (half >= previous) {  // subtracts half + 1 > previous
                    fail("bucket count would be negative", at);
                } else {
                    count -= half + 1;
                }
                if (count == 0)
                    fail("bucket count is zero (spans list only non-empty buckets)", at);
                if (!add_u64(total, count))
                    fail("histogram holds more than 2^64 - 1 values in total", at);
                h.add_to_bucket(layout.first_index() + static_cast<std::int64_t>(k), count);
                previous = count;
            }
        }
        return h;
    }

    const std::uint8_t* begin_;
    const std::uint8_t* p_;
    const std::uint8_t* end_;
    decode_limits limits_;
    std::size_t total_buckets_ = 0;
    std::size_t series_count_ = 0;  // arms, counters and histograms declared so far
    // What is being read, for error messages.
    std::uint64_t arm_index_ = no_arm;
    std::string_view arm_;
    std::string_view model_version_;
    const char* series_kind_ = "";
    std::string_view series_;
};

/// Restores the vector's size when an encoder throws half-way.
class truncate_on_unwind {
public:
    explicit truncate_on_unwind(std::vector<std::uint8_t>& out) noexcept
        : out_(out), size_(out.size()) {}
    truncate_on_unwind(const truncate_on_unwind&) = delete;
    truncate_on_unwind& operator=(const truncate_on_unwind&) = delete;
    ~truncate_on_unwind() {
        if (!done_) out_.resize(size_);
    }
    void release() noexcept { done_ = true; }

private:
    std::vector<std::uint8_t>& out_;
    std::size_t size_;
    bool done_ = false;
};

}  // namespace detail

// --- Definitions --------------------------------------------------------------

inline void encode(const snapshot& s, std::vector<std::uint8_t>& out) {
    detail::truncate_on_unwind guard(out);
    detail::snapshot_encoder(out).write(s);
    guard.release();
}

inline std::vector<std::uint8_t> encode(const snapshot& s) {
    std::vector<std::uint8_t> out;
    encode(s, out);
    return out;
}

inline snapshot decode(std::span<const std::uint8_t> bytes, const decode_limits& limits) {
    return detail::snapshot_decoder(bytes, limits).read();
}

CANARYGATE_NAMESPACE_END
