# frozen_string_literal: true

# Checks the code blocks of every Markdown file of the repository: each
# fence is closed (a fence opened with ```lang ends at a bare ```, never at
# another ```lang line, which Markdown would render as text of the block),
# and each block of these languages compiles or parses:
#   c, cpp  cc/c++ -fsyntax-only with include/ (statements go into main(),
#           function definitions and #include lines stay at file scope, and
#           PLACEHOLDERS declares the names the README leaves to the reader)
#   go      parsed by gofmt (as statements in a function, else as a file)
#   ruby    ruby -c;  sh  bash -n;  json  JSON.parse
# Prints one line per block and exits 1 if any fails.
#
#   ruby scripts/check-readme-snippets.rb [FILE.md ...]
require "json"
require "open3"
require "tmpdir"

ROOT = File.expand_path("..", __dir__)
PLACEHOLDERS = <<~C
  #include <stdbool.h>
  #include <stddef.h>
  #include <stdio.h>
  #include <stdlib.h>
  #include <string.h>
  #include <logstash_async.h>
  /* Names the README's snippets leave to the reader. */
  bool my_queue_push(void *queue, const char *event, size_t len);
  void close_queue(void *queue);
  static void *my_queue;
  static char err[256];
C

Block = Struct.new(:file, :line, :lang, :text)

def blocks_and_fence_errors(file)
  blocks = []
  errors = []
  open_block = nil
  File.readlines(file, chomp: true).each_with_index do |line, i|
    lineno = i + 1
    if open_block
      if line =~ /\A\s*(`{3,}|~{3,})\s*\z/ && Regexp.last_match(1).size >= open_block[:fence].size
        blocks << Block.new(file, open_block[:line], open_block[:lang], open_block[:lines].join("\n"))
        open_block = nil
      elsif line =~ /\A\s*(`{3,}|~{3,})\S/
        errors << "#{file}:#{open_block[:line]}: the ```#{open_block[:lang]} block is not closed " \
                  "before the fence with an info string at line #{lineno}"
        open_block = nil
      else
        open_block[:lines] << line
      end
    elsif line =~ /\A\s*(`{3,}|~{3,})\s*([\w+-]*)/
      open_block = { fence: Regexp.last_match(1), lang: Regexp.last_match(2), line: lineno, lines: [] }
    end
  end
  errors << "#{file}:#{open_block[:line]}: the ```#{open_block[:lang]} block is never closed" if open_block
  [blocks, errors]
end

def run(*cmd, stdin: nil)
  out, status = Open3.capture2e(*cmd, stdin_data: stdin)
  [status.success?, out]
end

# C and C++: file-scope parts (#include, function definitions) and the rest
# as the body of main().
def split_c(text)
  top = []
  body = []
  in_function = false
  text.each_line do |line|
    if in_function
      top << line
      in_function = false if line.start_with?("}")
    elsif line.start_with?("#include")
      top << line
    elsif line =~ /\A(static\s+)?[A-Za-z_][\w\s*]*\b\w+\s*\([^;]*\z/ && !line.include?("=")
      top << line
      in_function = true
    else
      body << line
    end
  end
  [top.join, body.join]
end

def check_c(block, compiler, std, dir)
  top, body = split_c(block.text)
  ext = compiler == "c++" ? "cpp" : "c"
  src = File.join(dir, "snippet.#{ext}")
  File.write(src, "#{PLACEHOLDERS}#{top}\nint main(void) {\n#{body}\nreturn 0;\n}\n")
  run(compiler, "-std=#{std}", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
      "-Wno-unused-parameter", "-Wno-unused-function", "-I#{ROOT}/include", src)
end

def check_go(block)
  ok, out = run("gofmt", "-e", stdin: "package p\n\nfunc _() {\n#{block.text}\n}\n")
  return [ok, out] if ok

  ok2, out2 = run("gofmt", "-e", stdin: "package p\n\n#{block.text}\n")
  ok2 ? [true, ""] : [false, "#{out}#{out2}"]
end

def check(block, dir)
  case block.lang
  when "c" then check_c(block, "cc", "c11", dir)
  when "cpp", "c++" then check_c(block, "c++", "c++17", dir)
  when "go" then check_go(block)
  when "ruby" then run("ruby", "-c", stdin: block.text)
  when "sh", "bash" then run("bash", "-n", stdin: block.text)
  when "json"
    JSON.parse(block.text)
    [true, ""]
  end
rescue JSON::ParserError => e
  [false, e.message]
end

files = ARGV.empty? ? Dir.chdir(ROOT) { `git ls-files '*.md'`.split("\n") } : ARGV
failed = 0
passed = 0
Dir.mktmpdir do |dir|
  files.each do |rel|
    file = File.expand_path(rel, ROOT)
    blocks, errors = blocks_and_fence_errors(file)
    errors.each do |e|
      puts "FAIL #{e.sub("#{ROOT}/", '')}"
      failed += 1
    end
    blocks.each do |block|
      result = check(block, dir)
      next if result.nil?

      where = "#{rel}:#{block.line} (#{block.lang})"
      if result[0]
        passed += 1
        puts "ok   #{where}"
      else
        puts "FAIL #{where}\n#{result[1].gsub(/^/, '     ')}"
        failed += 1
      end
    end
  end
end
puts "readme snippets: #{passed} passed, #{failed} failed"
exit(failed.zero? ? 0 : 1)
