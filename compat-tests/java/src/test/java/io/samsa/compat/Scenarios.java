package io.samsa.compat;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The environment ecosystems_test.go hands every suite, and the one JSON
 * line per scenario it reads back: {"client":..,"scenario":..,"ok":..,"error":..}.
 */
final class Scenarios {
    static final String CLIENT = "java-kafka-clients";
    /** A scenario that takes longer than this is recorded as failed. */
    static final long SCENARIO_TIMEOUT_SECONDS = 90;

    private Scenarios() {}

    interface Body {
        void run() throws Exception;
    }

    static String env(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalStateException(name + " is not set (run through compat-tests/ecosystems_test.go)");
        }
        return v;
    }

    static String bootstrap() {
        return env("SAMSA_BOOTSTRAP");
    }

    static String bootstrapNoAuto() {
        return env("SAMSA_BOOTSTRAP_NOAUTO");
    }

    /** A fresh topic name for one scenario. */
    static String topic(String scenario) {
        return "java-" + scenario + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /**
     * Runs one scenario with a deadline, appends its result line to
     * $SAMSA_RESULTS and rethrows its failure so that JUnit fails too.
     */
    static void run(String scenario, Body body) throws Exception {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "scenario-" + scenario);
            t.setDaemon(true);
            return t;
        });
        Throwable failure = null;
        try {
            Future<?> f = ex.submit(() -> {
                body.run();
                return null;
            });
            f.get(SCENARIO_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            failure = e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            failure = new AssertionError("scenario did not finish within " + SCENARIO_TIMEOUT_SECONDS + " s");
        } catch (Throwable t) {
            failure = t;
        } finally {
            ex.shutdownNow();
        }
        write(scenario, failure);
        if (failure instanceof Exception) {
            throw (Exception) failure;
        }
        if (failure instanceof Error) {
            throw (Error) failure;
        }
    }

    private static synchronized void write(String scenario, Throwable failure) throws IOException {
        String line = "{\"client\":" + json(CLIENT) + ",\"scenario\":" + json(scenario)
                + ",\"ok\":" + (failure == null) + (failure == null ? "" : ",\"error\":" + json(describe(failure))) + "}\n";
        try (FileOutputStream out = new FileOutputStream(env("SAMSA_RESULTS"), true)) {
            out.write(line.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The failure's class and message, then its causes, then the stack. */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c != t) {
                sb.append(" <- ");
            }
            sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
            if (c.getCause() == c) {
                break;
            }
        }
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sb + "\n" + sw;
    }

    static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }
}
