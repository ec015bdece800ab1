package io.github.corralmcp.corral.readme

import com.sun.jna.Native
import io.github.corralmcp.corral.conformance.LibC
import org.junit.jupiter.api.Assumptions
import org.junit.jupiter.api.Test
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Paths
import kotlin.test.assertContains
import kotlin.test.assertTrue

/** The README's Kotlin example is this package's ReadmeExample.kt, and it runs. */
class ReadmeTest {
    private val root = Paths.get(System.getProperty("corral.repo.root") ?: "../..").toAbsolutePath().normalize()

    private fun between(
        text: String,
        begin: String,
        end: String,
    ) = text.substringAfter(begin).substringBefore(end).trim('\n')

    @Test
    fun `the README shows the example that runs`() {
        val readme = Files.readString(root.resolve("bindings-uniffi/README.md"))
        val blocks = readme.split("```kotlin\n").drop(1)
        assertTrue(blocks.size == 1, "the README must have exactly one kotlin block (the tested example)")
        val shown = blocks[0].substringBefore("```").trim('\n')
        val source =
            Files.readString(
                root.resolve("bindings-uniffi/kotlin/src/test/kotlin/io/github/corralmcp/corral/readme/ReadmeExample.kt"),
            )
        val example = between(source, "// README:begin\n", "// README:end")
        assertTrue(shown == example, "the README's first kotlin block must equal ReadmeExample.kt between its markers")
    }

    @Test
    fun `the README example runs`() {
        Assumptions.assumeTrue(System.getenv("CORRAL_TEST_OFFLINE") == null, "needs the npm registry")
        // The example uses corral's default home; keep it inside the build dir (installs are cached there).
        val home = Paths.get("target/corral-home").toAbsolutePath()
        Native.load("c", LibC::class.java).setenv("CORRAL_HOME", home.toString(), 1)
        val out = ByteArrayOutputStream()
        val stdout = System.out
        System.setOut(PrintStream(out, true))
        try {
            main()
        } finally {
            System.setOut(stdout)
        }
        val printed = out.toString()
        print(printed)
        assertContains(printed, "echo → Echo: hello from a sandbox")
        assertContains(printed, "error SERVER_NOT_FOUND")
    }
}
