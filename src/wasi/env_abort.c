/* env.abort(message, file, line, column), the abort function AssemblyScript
 * imports: ends the guest's run with a TARMAC_TRAP_ABORT trap whose detail
 * reads "<message> at <file>:<line>:<column>".
 *
 * AssemblyScript strings are UTF-16LE; the byte length is a u32 stored just
 * before the string (at ptr - 4). A null pointer or a string outside memory
 * still aborts, with a placeholder in place of the text. */
#include <stdbool.h>
#include <stdio.h>

#include "engine/host_imports.h"
#include "engine/instance_state.h"
#include "runtime/runtime.h"
#include "wasi/wasi_host.h"

const tarmac_host_import_t tarmac_env_imports[] = {
    {"env", "abort", "iiii:"},
    {NULL, NULL, NULL},
};

/* Longest UTF-8 text kept from each string; the whole detail stays within
 * the runtime's 255 bytes. */
#define MESSAGE_MAX 160
#define FILE_MAX 64

typedef struct {
  char *data;
  size_t len, cap; /* cap excludes the NUL */
} text_t;

/* Appends code point cp as UTF-8 when it fits whole; false when full. */
static bool text_put(text_t *text, uint32_t cp) {
  uint8_t bytes[4];
  size_t n;
  if (cp < 0x80) {
    bytes[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    bytes[0] = (uint8_t)(0xC0 | cp >> 6);
    bytes[1] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    bytes[0] = (uint8_t)(0xE0 | cp >> 12);
    bytes[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    bytes[2] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    bytes[0] = (uint8_t)(0xF0 | cp >> 18);
    bytes[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    bytes[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    bytes[3] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 4;
  }
  if (text->len + n > text->cap) return false;
  for (size_t i = 0; i < n; i++) text->data[text->len++] = (char)bytes[i];
  text->data[text->len] = '\0';
  return true;
}

static uint16_t load_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

/* Converts UTF-16LE units to UTF-8 until the text is full; unpaired
 * surrogates become U+FFFD. */
static void utf16_to_text(const uint8_t *units, size_t count, text_t *text) {
  for (size_t i = 0; i < count; i++) {
    uint32_t cp = load_u16(units + 2 * i);
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < count) {
      uint32_t low = load_u16(units + 2 * (i + 1));
      if (low >= 0xDC00 && low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i++;
      }
    }
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
    if (!text_put(text, cp)) return;
  }
}

static void put_placeholder(text_t *text, const char *placeholder) {
  text->len = (size_t)snprintf(text->data, text->cap + 1, "%s", placeholder);
}

/* Reads the AssemblyScript string at ptr into text; false when it is
 * outside memory. Only as many units as can show are read. */
static bool read_as_string(const wasm_rt_memory_t *memory, uint32_t ptr,
                           text_t *text) {
  if (ptr < 4 || !tarmac_rt_range_ok(memory, ptr - 4, 4)) return false;
  const uint8_t *len_bytes = memory->data + ptr - 4;
  uint32_t bytes = (uint32_t)len_bytes[0] | (uint32_t)len_bytes[1] << 8 |
                   (uint32_t)len_bytes[2] << 16 | (uint32_t)len_bytes[3] << 24;
  size_t units = bytes / 2;
  if (units > text->cap) units = text->cap; /* each unit is >= 1 byte */
  if (!tarmac_rt_range_ok(memory, ptr, (uint64_t)units * 2)) return false;
  utf16_to_text(memory->data + ptr, units, text);
  return true;
}

/* The string at ptr, "null" for a null pointer, or a placeholder. */
static void describe_as_string(const wasm_rt_memory_t *memory, uint32_t ptr,
                               text_t *text) {
  if (ptr == 0)
    put_placeholder(text, "null");
  else if (!read_as_string(memory, ptr, text))
    put_placeholder(text, "<unreadable string>");
}

void Z_envZ_abort(struct tarmac_instance *instance, uint32_t message_ptr,
                  uint32_t file_ptr, uint32_t line, uint32_t column) {
  instance = tarmac_import_enter(instance);
  char message_buf[MESSAGE_MAX + 1] = "", file_buf[FILE_MAX + 1] = "";
  text_t message = {message_buf, 0, MESSAGE_MAX};
  text_t file = {file_buf, 0, FILE_MAX};
  describe_as_string(instance->memory, message_ptr, &message);
  describe_as_string(instance->memory, file_ptr, &file);
  char detail[256];
  snprintf(detail, sizeof detail, "%s at %s:%u:%u", message.data, file.data,
           line, column);
  tarmac_rt_trap_detail_set(TARMAC_TRAP_ABORT, detail);
}
