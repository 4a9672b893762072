// SPDX-License-Identifier: Apache-2.0
// Java side of the interop suite: writes and reads action-state records the way Flink Agents
// 0.3.1's KafkaActionStateStore does, with the same Kafka client and settings.
//
//   produce BROKERS TOPIC RECORDS.jsonl   create the topic as upstream does (if missing) and send
//                                         each {"partition","key","value"|null} line, waiting for
//                                         every acknowledgement
//   rebuild BROKERS TOPIC P=OFFSET,...    replay like upstream's rebuildState of 0.3.x (assign,
//                                         seek to the marker, poll until an empty batch, last
//                                         write wins) and print the result as JSON Lines
//                                         {"partition","offset","key","value"} sorted by key
//   topic-id BROKERS TOPIC                print the topic id as Kafka's Uuid.toString() does
package org.aftk.interop;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Interop {
  public static void main(String[] args) throws Exception {
    if (args.length != 4 && !(args.length == 3 && args[0].equals("topic-id"))) {
      System.err.println("usage: Interop produce|rebuild BROKERS TOPIC ARG");
      System.exit(2);
    }
    switch (args[0]) {
      case "produce" -> produce(args[1], args[2], Path.of(args[3]));
      case "rebuild" -> rebuild(args[1], args[2], args[3]);
      case "topic-id" -> topicId(args[1], args[2]);
      default -> {
        System.err.println("unknown command " + args[0]);
        System.exit(2);
      }
    }
  }

  // Upstream: NewTopic(topic, kafkaActionStateTopicNumPartitions=64, replication 1), compacted,
  // created only when listTopics does not show it.
  static void ensureTopic(String brokers, String topic) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    try (AdminClient admin = AdminClient.create(p)) {
      Set<String> names = admin.listTopics().names().get();
      if (!names.contains(topic)) {
        NewTopic t = new NewTopic(topic, 64, (short) 1).configs(Map.of("cleanup.policy", "compact"));
        admin.createTopics(List.of(t)).all().get();
      }
    }
  }

  static void topicId(String brokers, String topic) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    try (AdminClient admin = AdminClient.create(p)) {
      System.out.println(admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).topicId());
    }
  }

  static void produce(String brokers, String topic, Path records) throws Exception {
    ensureTopic(brokers, topic);
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("acks", "all");
    p.put("retries", 3);
    p.put("key.serializer", StringSerializer.class.getName());
    // The value bytes are what ActionStateKafkaSeder produced (the golden files hold them).
    p.put("value.serializer", ByteArraySerializer.class.getName());
    int n = 0;
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p);
        BufferedReader in = Files.newBufferedReader(records, StandardCharsets.UTF_8)) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isBlank()) continue;
        MiniJson.Obj o = MiniJson.parseObject(line);
        int partition = ((Number) o.get("partition")).intValue();
        String key = (String) o.get("key");
        Object value = o.get("value");
        byte[] bytes = value == null ? null : ((String) value).getBytes(StandardCharsets.UTF_8);
        RecordMetadata md = producer.send(new ProducerRecord<>(topic, partition, key, bytes)).get();
        if (md.partition() != partition) throw new IllegalStateException("landed in " + md.partition());
        n++;
      }
      producer.flush();
    }
    System.err.println("interop: produced " + n + " records");
  }

  static void rebuild(String brokers, String topic, String marker) throws IOException {
    Map<Integer, Long> offsets = new TreeMap<>();
    for (String part : marker.split(",")) {
      String[] kv = part.split("=");
      offsets.put(Integer.parseInt(kv[0]), Long.parseLong(kv[1]));
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("client.id", "action-state-rebuild-consumer");
    p.put("group.id", "action-state-rebuild-" + UUID.randomUUID());
    p.put("auto.offset.reset", "earliest");
    p.put("key.deserializer", StringDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    Map<String, ConsumerRecord<String, byte[]>> state = new TreeMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (int partition : offsets.keySet()) tps.add(new TopicPartition(topic, partition));
      consumer.assign(tps);
      for (Map.Entry<Integer, Long> e : offsets.entrySet()) {
        consumer.seek(new TopicPartition(topic, e.getKey()), e.getValue());
      }
      // 0.3.x ends its replay at the first empty poll and commits every batch. On a loaded
      // machine the first fetch can take longer than that poll, and 0.3.x then restores
      // nothing (a real upstream weakness; newer upstream reads up to end offsets captured
      // first). What this check needs is what a replay that reads everything sees, so it
      // also polls on while any partition is short of the end offsets taken before it.
      Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(60));
      long deadline = System.currentTimeMillis() + 120_000;
      while (true) {
        ConsumerRecords<String, byte[]> batch = consumer.poll(Duration.ofMillis(1000));
        if (batch.isEmpty()) {
          boolean behind = false;
          for (TopicPartition tp : tps) behind |= consumer.position(tp) < end.get(tp);
          if (!behind || System.currentTimeMillis() > deadline) break;
          continue;
        }
        for (ConsumerRecord<String, byte[]> r : batch) {
          // 0.3.x puts null for a tombstone (read as absent); newer runtimes remove the key.
          if (r.value() == null) state.remove(r.key());
          else state.put(r.key(), r);
        }
        consumer.commitSync();
      }
    }
    StringBuilder out = new StringBuilder();
    for (ConsumerRecord<String, byte[]> r : state.values()) {
      out.append("{\"partition\":").append(r.partition())
          .append(",\"offset\":").append(r.offset())
          .append(",\"key\":").append(MiniJson.quote(r.key()))
          .append(",\"value\":").append(MiniJson.quote(new String(r.value(), StandardCharsets.UTF_8)))
          .append("}\n");
    }
    System.out.print(out);
    System.out.flush();
  }
}
