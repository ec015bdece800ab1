package io.github.corralmcp.corral.conformance

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.math.BigDecimal
import java.math.BigInteger

// serde_json's accessors and equality, so that the Kotlin runner reads scenarios exactly as the
// Rust reference runner does.

/** `Value::as_str`: only JSON strings. */
fun JsonElement?.asStr(): String? = (this as? JsonPrimitive)?.takeIf { it.isString }?.content

/** `Value::as_object`. */
fun JsonElement?.asObject(): JsonObject? = this as? JsonObject

/** `Value::as_array`. */
fun JsonElement?.asArray(): JsonArray? = this as? JsonArray

/** `Value::as_bool`: only JSON booleans. */
fun JsonElement?.asBool(): Boolean? {
    val p = this as? JsonPrimitive ?: return null
    if (p.isString || p is JsonNull) return null
    return when (p.content) {
        "true" -> true
        "false" -> false
        else -> null
    }
}

private fun JsonElement?.numberText(): String? {
    val p = this as? JsonPrimitive ?: return null
    if (p.isString || p is JsonNull || p.content == "true" || p.content == "false") return null
    return p.content
}

private fun isIntegerText(text: String) = text.none { it == '.' || it == 'e' || it == 'E' }

/** `Value::as_u64`: a non-negative integer that fits in 64 bits. */
fun JsonElement?.asU64(): Long? {
    val text = numberText() ?: return null
    if (!isIntegerText(text)) return null
    val n = text.toBigIntegerOrNull() ?: return null
    return if (n.signum() >= 0 && n.bitLength() <= 63) n.toLong() else null
}

/** `Value::as_i64`. */
fun JsonElement?.asI64(): Long? {
    val text = numberText() ?: return null
    return if (isIntegerText(text)) text.toLongOrNull() else null
}

/** `Value::as_f64`: any number. */
fun JsonElement?.asF64(): Double? = numberText()?.toDoubleOrNull()

/** `Value::get` on an object (null for anything else). */
operator fun JsonElement?.get(key: String): JsonElement? = (this as? JsonObject)?.get(key)

/**
 * serde_json's `PartialEq`: numbers are equal when both are integers of the same value or both
 * floats of the same value (an integer never equals a float); objects ignore key order.
 */
fun jsonEquals(
    a: JsonElement?,
    b: JsonElement?,
): Boolean {
    if (a == null || b == null) return a == null && b == null
    return when (a) {
        is JsonNull -> {
            b is JsonNull
        }

        is JsonObject -> {
            b is JsonObject && a.size == b.size && a.all { (k, v) -> b.containsKey(k) && jsonEquals(v, b[k]) }
        }

        is JsonArray -> {
            b is JsonArray && a.size == b.size && a.indices.all { jsonEquals(a[it], b[it]) }
        }

        is JsonPrimitive -> {
            if (b !is JsonPrimitive || b is JsonNull) return false
            val na = a.numberText()
            val nb = b.numberText()
            when {
                na != null && nb != null -> numbersEqual(na, nb)
                na != null || nb != null -> false
                else -> a.isString == b.isString && a.content == b.content
            }
        }
    }
}

private fun numbersEqual(
    a: String,
    b: String,
): Boolean {
    val intA = isIntegerText(a)
    val intB = isIntegerText(b)
    if (intA != intB) return false
    return if (intA) {
        BigInteger(a) == BigInteger(b)
    } else {
        BigDecimal(a).toDouble() == BigDecimal(b).toDouble()
    }
}
