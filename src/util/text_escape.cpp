#include "crest/util/text_escape.h"

#include <cstdint>
#include <cstdio>

namespace crest {

namespace {

// The length of the valid UTF-8 sequence at text[i] (1 to 4) with its code point, or 0 when the
// bytes there are not valid UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
std::size_t utf8_at(std::string_view text, std::size_t i, std::uint32_t& code) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t n = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    code = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    n = 2, min = 0x80, code = lead & 0x1Fu;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3, min = 0x800, code = lead & 0x0Fu;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4, min = 0x10000, code = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3Fu);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return n;
}

// Code points shown as \u{XXXX}: C1 controls, line and paragraph separators, bidi controls.
bool hidden_code_point(std::uint32_t code) {
  return (code >= 0x80 && code <= 0x9F) || code == 0x2028 || code == 0x2029 ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069) ||
         code == 0x200E || code == 0x200F || code == 0xFEFF;
}

std::string hex_escape(const char* pattern, unsigned value) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

// visible_text's work, with `plain` applied to each printable ASCII character.
template <typename Plain>
std::string make_visible(std::string_view text, Plain plain) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t code = 0;
    const std::size_t n = utf8_at(text, i, code);
    if (n == 0) {
      out += hex_escape("\\x%02X", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (code == '\n') {
      out += "\\n";
    } else if (code == '\r') {
      out += "\\r";
    } else if (code == '\t') {
      out += "\\t";
    } else if (code < 0x20 || code == 0x7F) {
      out += hex_escape("\\x%02X", code);
    } else if (hidden_code_point(code)) {
      out += hex_escape("\\u{%04X}", code);
    } else if (n == 1) {
      plain(out, static_cast<char>(code));
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t code = 0;
    const std::size_t n = utf8_at(text, i, code);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string visible_text(std::string_view text) {
  return make_visible(text, [](std::string& out, char c) { out += c; });
}

std::string markdown_cell(std::string_view text) {
  static constexpr std::string_view kSyntax = "\\`*_[]<>|~&";
  return make_visible(text, [](std::string& out, char c) {
    if (kSyntax.find(c) != std::string_view::npos) out += '\\';
    out += c;
  });
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string html_text(std::string_view text) {
  return make_visible(text, [](std::string& out, char c) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  });
}

std::string tensorboard_tag_part(std::string_view text) {
  if (text.empty()) return "_";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-';
    out += safe ? c : '_';
  }
  return out;
}

std::string shell_word(std::string_view text) {
  const bool plain = !text.empty() && text.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789._+=,-/:@%") == std::string_view::npos;
  if (plain) return std::string(text);
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace crest
