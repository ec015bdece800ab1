package io.github.corralmcp.corral.conformance

import io.github.corralmcp.corral.CorralException
import io.github.corralmcp.corral.Progress
import io.github.corralmcp.corral.ToolResult
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject

// Expectations of a step, checked against what corral returned. Mirrors
// tests/conformance/src/expect.rs key for key: `error`, `text`, `text_contains`,
// `text_not_contains`, `text_length`, `is_error`, `allow_is_error`, `structured`,
// `structured_max`, `progress_min`, `names_include`, `names_exclude`, `count`, `count_min`,
// `json`, `json_contains`, `stdout_contains`, `exit_code`.

/** A step's outcome: a value, or the corral error it failed with. */
sealed class Outcome<out T> {
    data class Ok<T>(
        val value: T,
    ) : Outcome<T>()

    data class Err(
        val error: CorralException,
    ) : Outcome<Nothing>()
}

/** Runs `block`, turning a [CorralException] into [Outcome.Err]; anything else propagates. */
suspend fun <T> outcome(block: suspend () -> T): Outcome<T> =
    try {
        Outcome.Ok(block())
    } catch (e: CorralException) {
        Outcome.Err(e)
    }

/** What kind of value a plain check looks at. */
enum class Check { NAMES, TEXT, JSON }

/** A failed expectation. */
class StepFailure(
    message: String,
) : Exception(message)

fun fail(message: String): Nothing = throw StepFailure(message)

fun describe(e: CorralException): String = "${e.code()}: ${e.detail()}"

fun checkError(
    expect: JsonElement,
    error: CorralException,
) {
    when (val kind = expect["error"].asStr()) {
        null -> fail("unexpected error: ${describe(error)}")
        error.code() -> Unit
        else -> fail("expected error $kind, got ${describe(error)}")
    }
}

private fun expectsError(expect: JsonElement) {
    expect["error"].asStr()?.let { fail("expected error $it, but the step succeeded") }
}

fun checkToolResult(
    expect: JsonElement,
    result: Outcome<ToolResult>,
    progress: List<Progress>,
) {
    val r =
        when (result) {
            is Outcome.Err -> return checkError(expect, result.error)
            is Outcome.Ok -> result.value
        }
    expectsError(expect)
    val text = r.text()
    checkText(expect, text)
    val wantIsError = expect["is_error"].asBool()
    if (wantIsError != null && r.isError != wantIsError) {
        fail("is_error is ${r.isError}, expected $wantIsError (text: ${clip(text)})")
    }
    if (expect["is_error"] == null && r.isError && expect["allow_is_error"] == null) {
        fail("the tool reported an error: ${clip(text)}")
    }
    val structured = r.structuredContent?.let { Json.parseToJsonElement(it) }
    expect["structured"]?.let { want ->
        if (structured == null || !jsonEquals(structured, want)) {
            fail("structured_content is $structured, expected $want")
        }
    }
    expect["structured_max"].asObject()?.let { max ->
        val got = structured ?: JsonObject(emptyMap())
        for ((k, limit) in max) {
            val v = got[k].asF64() ?: fail("no number at $k")
            if (v > (limit.asF64() ?: Double.MAX_VALUE)) fail("$k is $v, more than $limit")
        }
    }
    expect["progress_min"].asU64()?.let { min ->
        if (progress.size < min) {
            fail("saw ${progress.size} progress notifications, expected at least $min")
        }
    }
}

private fun checkText(
    expect: JsonElement,
    text: String,
) {
    expect["text"].asStr()?.let { want ->
        if (text != want) fail("text is \"${clip(text)}\", expected \"$want\"")
    }
    expect["text_contains"].asStr()?.let { want ->
        if (!text.contains(want)) fail("text \"${clip(text)}\" does not contain \"$want\"")
    }
    expect["text_not_contains"].asStr()?.let { bad ->
        if (text.contains(bad)) fail("text \"${clip(text)}\" contains \"$bad\"")
    }
    expect["text_length"].asU64()?.let { len ->
        val bytes = text.toByteArray().size
        if (bytes.toLong() != len) fail("text has $bytes bytes, expected $len")
    }
}

fun checkValue(
    expect: JsonElement,
    result: Outcome<JsonElement>,
    kind: Check,
) {
    val v =
        when (result) {
            is Outcome.Err -> return checkError(expect, result.error)
            is Outcome.Ok -> result.value
        }
    expectsError(expect)
    when (kind) {
        Check.TEXT -> {
            checkText(expect, v.asStr() ?: "")
        }

        Check.NAMES -> {
            val names = v.asArray()?.mapNotNull { it.asStr() } ?: emptyList()
            for (n in expect["names_include"].asArray() ?: emptyList()) {
                val name = n.asStr() ?: ""
                if (name !in names) fail("\"$name\" missing from $names")
            }
            for (n in expect["names_exclude"].asArray() ?: emptyList()) {
                val name = n.asStr() ?: ""
                if (name in names) fail("\"$name\" should not be in $names")
            }
            expect["count"].asU64()?.let { c ->
                if (names.size.toLong() != c) fail("${names.size} names, expected $c: $names")
            }
            expect["count_min"].asU64()?.let { c ->
                if (names.size < c) fail("${names.size} names, expected at least $c")
            }
        }

        Check.JSON -> {}
    }
    expect["json"]?.let { want ->
        if (!jsonEquals(v, want)) fail("got $v, expected $want")
    }
    expect["json_contains"].asObject()?.let { want ->
        for ((k, w) in want) {
            if (!jsonEquals(v[k], w)) fail("$k is ${v[k]}, expected $w")
        }
    }
    expect["stdout_contains"].asStr()?.let { want ->
        val out = v["stdout"].asStr() ?: ""
        if (!out.contains(want)) fail("stdout \"$out\" does not contain \"$want\"")
    }
    expect["exit_code"]?.let { want ->
        if (!jsonEquals(v["exit_code"], want)) fail("exit code ${v["exit_code"]}, expected $want ($v)")
    }
}

private fun clip(s: String): String = if (s.length > 300) "${s.take(300)}… (${s.toByteArray().size} bytes)" else s
