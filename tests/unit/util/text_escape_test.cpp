// The escaping of user strings per output format (util/text_escape.h), on the kinds of names a
// folder dataset can hold: '|', line breaks, HTML, commas and quotes, entities, invalid UTF-8.
#include "crest/util/text_escape.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace crest {
namespace {

const std::vector<std::string> kNasty = {"a|b",
                                         "line\nbreak",
                                         "<script>alert(1)</script>",
                                         "comma,\"quote\"",
                                         "&amp;",
                                         "bad\xff\xfe",
                                         "cr\rtab\t",
                                         "esc\x1b[31mred",
                                         "back\\slash",
                                         "bidi\u202Eevil",
                                         "",
                                         "plain"};

bool has_control(const std::string& text) {
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) return true;
  }
  return false;
}

TEST(TextEscapeTest, Utf8Validity) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x88"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(TextEscapeTest, VisibleTextIsOneLineWithoutControls) {
  EXPECT_EQ(visible_text("line\nbreak"), "line\\nbreak");
  EXPECT_EQ(visible_text("cr\rtab\t"), "cr\\rtab\\t");
  EXPECT_EQ(visible_text("esc\x1b[31m"), "esc\\x1B[31m");
  EXPECT_EQ(visible_text("bad\xff"), "bad\\xFF");
  EXPECT_EQ(visible_text("bidi\u202Eevil"), "bidi\\u{202E}evil");
  EXPECT_EQ(visible_text("caf\xc3\xa9"), "caf\xc3\xa9");  // valid UTF-8 stays
  for (const std::string& name : kNasty) {
    const std::string v = visible_text(name);
    EXPECT_FALSE(has_control(v)) << v;
    EXPECT_TRUE(is_valid_utf8(v)) << v;
  }
}

// A Markdown table row keeps its column count: no unescaped '|' and no line break in a cell;
// no raw HTML tag or entity survives.
TEST(TextEscapeTest, MarkdownCellKeepsTheTable) {
  EXPECT_EQ(markdown_cell("a|b"), "a\\|b");
  EXPECT_EQ(markdown_cell("line\nbreak"), "line\\nbreak");
  EXPECT_EQ(markdown_cell("<script>"), "\\<script\\>");
  EXPECT_EQ(markdown_cell("&amp;"), "\\&amp;");
  EXPECT_EQ(markdown_cell("logit_adjusted"), "logit\\_adjusted");
  for (const std::string& name : kNasty) {
    const std::string cell = markdown_cell(name);
    EXPECT_EQ(cell.find('\n'), std::string::npos) << cell;
    EXPECT_FALSE(has_control(cell)) << cell;
    for (std::size_t i = 0; i < cell.size(); ++i) {
      if (cell[i] != '|' && cell[i] != '<') continue;
      // Preceded by an odd number of backslashes: escaped.
      std::size_t slashes = 0;
      while (slashes < i && cell[i - 1 - slashes] == '\\') ++slashes;
      EXPECT_EQ(slashes % 2, 1u) << cell;
    }
  }
}

TEST(TextEscapeTest, CsvFieldQuotesAsRfc4180) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a|b"), "a|b");
  EXPECT_EQ(csv_field("comma,\"quote\""), "\"comma,\"\"quote\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_field("bad\xff"), "bad\xff");  // bytes kept exactly
}

TEST(TextEscapeTest, HtmlTextHasNoMarkup) {
  EXPECT_EQ(html_text("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html_text("&amp;"), "&amp;amp;");
  EXPECT_EQ(html_text("a\"b'c"), "a&quot;b&#39;c");
  EXPECT_EQ(html_text("line\nbreak"), "line\\nbreak");
  for (const std::string& name : kNasty) {
    const std::string h = html_text(name);
    EXPECT_EQ(h.find_first_of("<>\"'"), std::string::npos) << h;
    EXPECT_FALSE(has_control(h)) << h;
    EXPECT_TRUE(is_valid_utf8(h)) << h;
  }
}

TEST(TextEscapeTest, TensorBoardTagPartIsSafe) {
  EXPECT_EQ(tensorboard_tag_part("cat"), "cat");
  EXPECT_EQ(tensorboard_tag_part("a|b"), "a_b");
  EXPECT_EQ(tensorboard_tag_part("x/y z"), "x_y_z");
  EXPECT_EQ(tensorboard_tag_part(""), "_");
  EXPECT_EQ(tensorboard_tag_part("caf\xc3\xa9"), "caf__");
  for (const std::string& name : kNasty) {
    for (char c : tensorboard_tag_part(name)) {
      const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
      EXPECT_TRUE(safe) << name;
    }
  }
}

// The commands `crest train` prints at its end (#30) name the run folder as one shell word.
TEST(TextEscapeTest, ShellWordIsOneWord) {
  EXPECT_EQ(shell_word("runs/exp-1_a.b"), "runs/exp-1_a.b");
  EXPECT_EQ(shell_word("r last"), "'r last'");
  EXPECT_EQ(shell_word("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_word(""), "''");
  EXPECT_EQ(shell_word("$HOME;rm"), "'$HOME;rm'");
  for (const std::string& nasty : kNasty) {
    const std::string word = shell_word(nasty);
    if (word == nasty) continue;  // plain
    ASSERT_GE(word.size(), 2u) << nasty;
    EXPECT_EQ(word.front(), '\'') << nasty;
    EXPECT_EQ(word.back(), '\'') << nasty;
  }
}

}  // namespace
}  // namespace crest
